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


def test_tail_has_its_runs_and_the_multi_process_run():
    result = load("tail")
    for key in ("viewers", "rate_msgs_per_s", "kafka_consumers", "p99_s", "dropped"):
        assert key in result, key
    runs = result["runs"]
    assert {20, 200, 1000} <= {r["viewers"] for r in runs}
    for r in runs:
        for key in ("rate_msgs_per_s", "server_processes", "kafka_consumers", "p99_s"):
            assert key in r, (r["viewers"], key)
        assert r["cpu_percent"]["machine"] == 100 * result["machine_cores"]
        assert len(r["load_average_during"]) == 2
    multi = result["multi_process"]
    assert multi["server_processes"] >= 2 and multi["channel_layer"] == "redis"
    assert multi["viewers"] == max(r["viewers"] for r in runs)


@pytest.mark.parametrize(
    ("name", "figure"), [("search", "rare_msgs_per_s"), ("browse", "newest50_http_s")]
)
def test_cost_curves_have_their_sizes_and_their_context(name, figure):
    curve = load(name)["curve"]
    sizes = [p["messages"] for p in curve["points"]]
    assert sizes == sorted(sizes) and {100_000, 1_000_000} <= set(sizes)
    for p in curve["points"]:
        assert p[figure] > 0 and "load_average_1m" in p
    assert curve["date"] and len(curve["load_average_end"]) == 3


@pytest.mark.parametrize("picture", ["tail_p99", "search_rate", "newest50"])
def test_each_cost_curve_has_its_picture(picture):
    import xml.etree.ElementTree as ET

    svg = ET.parse(RESULTS / f"{picture}.svg").getroot()
    assert svg.tag.endswith("svg")
    assert svg.findall(".//{http://www.w3.org/2000/svg}polyline")


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


def test_benchmark_servers_run_the_deployed_defaults():
    """Benchmarks' web processes run the tests' settings (for their database), which change
    some of the console's defaults; bench.common.DEPLOYED gives them back, each equal to the
    default in console/settings.py, and the tail results record what their servers ran."""
    import re

    from bench.common import DEPLOYED

    source = (ROOT / "console" / "settings.py").read_text()
    tests = (ROOT / "tests" / "settings.py").read_text()
    for name, value in DEPLOYED.items():
        default = re.search(rf'env_float\("{name}", ([\d_.]+)\)', source)
        assert default, f"console/settings.py no longer reads {name} with a default"
        assert float(value) == float(default.group(1).replace("_", "")), name
        assert f'"{name}"' in tests, f"the test settings no longer change {name}"
    assert load("tail")["server_settings"] == DEPLOYED


def test_goal_labels_and_figures_keep_off_the_lines(tmp_path):
    """The newest-50 curve of 2026-11-27: the 8 ms goal label sat on the console's line
    at the right; it goes where no series line runs, and so does every point's figure."""
    import itertools
    import re

    from bench.curves import CHAR_W, line_chart

    svg = line_chart(
        tmp_path / "c.svg",
        "t",
        "messages",
        "s",
        [
            ("console", [(1e5, 0.0089), (1e6, 0.0058), (1e7, 0.0068)]),
            ("plain", [(1e5, 0.0055), (1e6, 0.0033), (1e7, 0.0038)]),
        ],
        goals=[("goal ≤ 8 ms", 0.008), ("goal ≤ 25 ms (10M)", 0.025)],
    ).read_text()
    lines = [
        [tuple(map(float, pt.split(","))) for pt in pts.split()]
        for pts in re.findall(r'<polyline points="([^"]+)"', svg)
    ]
    labels = re.findall(
        r'<text x="([\d.]+)" y="([\d.]+)" fill="[^"]+" text-anchor="(\w+)">([^<]+)<', svg
    )
    checked = 0
    for x, y, anchor, text in labels:
        if not (text.startswith("goal") or text.endswith(" ms")):
            continue
        x, y, width = float(x), float(y), CHAR_W * len(text)
        x0 = x if anchor == "start" else x - width
        for line in lines:
            for (ax, ay), (bx, by) in itertools.pairwise(line):
                for t in range(41):
                    sx, sy = ax + (bx - ax) * t / 40, ay + (by - ay) * t / 40
                    assert not (x0 < sx < x0 + width and y - 11 < sy < y + 2), text
        checked += 1
    assert checked == 8  # two goals, six figures
