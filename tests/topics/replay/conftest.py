"""What the copy (bulk re-publish) tests share: a copy's parameters and a copy run in process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import topics.replay.services as services
from console.clusters import get_cluster
from console.jobs import job_create
from console.models import Job
from topics.replay.services import ranges_for


def copy_params(
    src: str, dst: str, *, n: int, parts: int = 4, keep: bool = True, target_cluster="local"
) -> dict[str, Any]:
    """The parameters of a copy of all of `src` (on cluster local) to `dst`, as the confirm
    view makes them: `n` records expected, `parts` target partitions."""
    ranges = ranges_for(get_cluster("local"), src, partitions=None, start=None, end=None)
    return {
        "mode": "copy",
        "source_topic": src,
        "ranges": {str(p): list(r) for p, r in ranges.items()},
        "target_cluster": target_cluster,
        "target_topic": dst,
        "target_partitions": parts,
        "keep_partition": keep,
        "keep_timestamps": True,
        "expected": n,
    }


def copy_job(params: dict[str, Any]) -> Job:
    return job_create(
        kind="replay.copy", cluster="local", target=params["target_topic"], params=params
    )


@pytest.fixture
def run_copy(make_user) -> Callable[..., dict[str, Any]]:
    """Run a copy in process as an operator (the same one each call) and return its result:
    `run_copy(params)` makes the job; `run_copy(params, job=job, progress=...)` runs one
    made before (cancelled, or resumed from its progress). With `fail_at=(i, error)` the
    source read raises `error` at its i-th record (as a killed worker or a lost cluster
    would stop it), so the copy raises it."""
    user = None

    def run(
        params: dict[str, Any],
        *,
        job: Job | None = None,
        progress: dict | None = None,
        fail_at: tuple[int, Exception] | None = None,
    ) -> dict[str, Any]:
        nonlocal user
        user = user or make_user("operator")
        job = job or copy_job(params)
        real = services._records
        if fail_at:
            at, error = fail_at

            def failing(cluster, params, positions):
                for i, rec in enumerate(real(cluster, params, positions)):
                    if i == at:
                        raise error
                    yield rec

            services._records = failing
        try:
            return services.records_copy(
                user=user,
                job_id=job.id,
                cluster=get_cluster("local"),
                params=params,
                progress=progress or {},
            )
        finally:
            services._records = real

    return run
