"""The committed benchmark results keep their shape: each has its date, commit, machine and
load; the pages benchmark has a median and p95 for every page it
knows, accounts for every URL it saw, and its flags agree with its figures."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from bench import pages as pages_bench

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
# The benchmarks whose results these tests hold to their shape (written by write_result).
BENCHES = ["browse", "groups_list", "pages", "produce", "scale", "search", "tail", "topics_list"]


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", BENCHES)
def test_every_benchmark_has_a_result_with_its_context(name):
    assert (RESULTS / f"{name}.json").exists(), f"run `python -m bench {name}` and commit it"
    result = load(name)
    for key in ("date", "git_commit", "machine_cores", "ratios", "reference", "targets"):
        assert key in result, f"{name}.json lacks {key!r}"
    assert len(result["load_average"]["start"]) == len(result["load_average"]["end"]) == 3


def test_pages_has_median_and_p95_for_every_page_of_the_url_conf():
    result = load("pages")
    figures = result["pages"]
    assert len(figures) >= 30
    for label, f in figures.items():
        assert isinstance(f["median_s"], float) and isinstance(f["p95_s"], float), label
        assert 0 < f["median_s"] <= f["p95_s"], (label, f)
        assert f["url"].startswith("/"), label
    # The benchmark's pages are the URL conf's (a renamed or removed URL fails here), and
    # the result accounts for every URL it saw: measured, skipped with a reason, or newer
    # than the benchmark's list (not_measured, to be added to it).
    measured = {name for name, _path, _headers in pages_bench._pages("x", 1).values()}
    names = pages_bench._url_names()
    assert measured <= names, sorted(measured - names)
    assert set(figures) == set(pages_bench._pages("x", 1))
    seen = measured | set(result["skipped"]) | set(result["not_measured"])
    assert not (measured & set(result["skipped"])) and not (measured & set(result["not_measured"]))
    assert all(result["skipped"].values())
    assert {"console:home", "topics:produce_message", "groups:undo"} <= seen
    for must in (
        "clusters",
        "cluster_overview",
        "broker",
        "topic_list",
        "topic_partitions",
        "topic_configs",
        "topic_messages",
        "topic_consumers",
        "group_list",
        "group_detail",
        "job",
        "audit",
        "topic_produce",
        "group_reset_form",
    ):
        assert must in figures, must


def test_pages_flags_agree_with_the_figures():
    result = load("pages")
    figures = result["pages"]
    limit = pages_bench.TARGET_S
    assert result["over_target_median"] == sorted(
        k for k, f in figures.items() if f["median_s"] > limit
    )
    assert result["over_target_p95"] == sorted(k for k, f in figures.items() if f["p95_s"] > limit)
    assert result["max_median_s"] == max(f["median_s"] for f in figures.values())
    assert result["loads_per_page"] == 20
    assert len(result["load_average"]["start"]) == 3


def test_scale_has_its_sizes_medians_sampler_passes_and_references():
    result = load("scale")
    assert result["topics"] >= 20_000 and result["groups"] >= 50_000
    for page in ("topics", "groups"):
        runs = result[f"{page}_first_page_runs_s"]
        assert len(runs) >= 5, page
        assert result[f"{page}_first_page_s"] == statistics.median(runs), page
        assert result[f"{page}_first_page_cold_s"] > 0, page
        assert result["targets"][f"{page}_first_page_s"] == "< 0.5"
    passes = result["lag_sampler_runs_s"]
    assert len(passes) >= 5
    assert result["lag_sampler_s"] == statistics.median(passes)
    assert result["lag_sampler_max_s"] == max(passes)
    assert result["lag_sampler_interval_s"] > 0
    assert result["lag_sampler_keeps_interval"] == (max(passes) < result["lag_sampler_interval_s"])
    assert result["lag_samples_written"] >= result["groups"]
    reference = result["reference"]
    assert reference["raw_list_topics_s"] > 0 and reference["raw_list_groups_s"] > 0
    assert result["machine_cores"] >= 1
