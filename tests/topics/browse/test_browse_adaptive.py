"""A page reads a few records per partition first and more only where the merge used up
what was read: the page, and its older/newer cursors, are exactly those of reading the
whole page size from every partition, on skewed and interleaved layouts, both directions."""

from __future__ import annotations

import random
import time

import pytest

import topics.browse.selectors as sel
from console.clusters import get_cluster
from topics.browse.selectors import Render, Seek, browse_page, merge, topology

pytestmark = [pytest.mark.kafka, pytest.mark.django_db]

T0 = 1_700_000_000_000


def _reference(cluster, topic, n, backward):
    """The page as reading n from every partition's boundary gives it."""
    marks = topology(cluster, topic, None, None).marks
    if backward:
        ranges = {p: (max(m.low, m.high - n), m.high) for p, m in marks.items()}
    else:
        ranges = {p: (m.low, min(m.high, m.low + n)) for p, m in marks.items()}
    by_p, _state = sel._read(cluster, topic, ranges, 10)
    return [(m.partition, m.offset) for m in merge(by_p, n, backward=backward)]


@pytest.mark.parametrize(
    "layout",
    [
        "newest-all-in-one",  # partition 0 holds every newer record: it alone fills the page
        "interleaved",
        "random",
    ],
)
def test_adaptive_page_equals_reading_the_whole_page_from_every_partition(
    layout, topic_factory, produce
):
    parts, n = 12, 50
    t = topic_factory(partitions=parts)
    rng = random.Random(7)
    msgs = []
    for i in range(600):
        if layout == "newest-all-in-one":
            p = 0 if i >= 400 else i % parts
        elif layout == "interleaved":
            p = i % parts
        else:
            p = min(parts - 1, int(rng.expovariate(0.4)))
        msgs.append({"value": f"m{i}".encode(), "partition": p, "timestamp": T0 + i})
    produce(t, msgs)
    cluster = get_cluster("local")
    render = Render(contents=False)
    reads = []
    real_read = sel._read

    def counting(cl, topic, ranges, bound_s, early=None):
        reads.append(sum(e - s for s, e in ranges.values()))
        return real_read(cl, topic, ranges, bound_s, early)

    sel._read = counting
    try:
        for mode, backward in (("newest", True), ("oldest", False)):
            sel._read = real_read
            want = _reference(cluster, t, n, backward)
            sel._read = counting
            reads.clear()
            page = browse_page(cluster, t, Seek(mode=mode, limit=n), render)
            got = [(v.partition, v.offset) for v in page.views]
            assert sorted(got) == sorted(want), (mode, layout)
            assert sum(reads) < parts * n, (mode, reads)  # fewer than n from each partition
    finally:
        sel._read = real_read
    # Paging with the cursors walks the whole topic once, newest first.
    seen, cursor = [], None
    started = time.monotonic()
    while time.monotonic() - started < 60:
        page = browse_page(
            cluster,
            t,
            Seek(mode="newest", limit=n),
            render,
            cursor=sel.parse_cursor(cursor) if cursor else None,
            direction="older" if cursor else "",
        )
        seen += [(v.partition, v.offset) for v in page.views]
        if not page.older:
            break
        cursor = page.older
    assert len(seen) == len(set(seen)) == 600
