"""The list index behind the topic and group lists of a large cluster: an answer past
CONSOLE_LIST_INDEX_S is shown at once while one background read refreshes it; past the
stale window, or after a change made here, the page reads afresh; tests read afresh."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import override_settings

from console.kafka import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_an_answer_past_its_age_is_served_while_one_background_read_refreshes_it():
    gate = threading.Event()
    calls = []

    def load():
        calls.append(1)
        if len(calls) > 1:
            gate.wait(5)
        return len(calls)

    assert cache.shared("c", "index", 0.05, load, stale_s=10) == 1
    time.sleep(0.1)
    started = time.monotonic()
    # Past its age: the old answer at once (the refresh is held by `gate`), one refresh only.
    assert [cache.shared("c", "index", 0.05, load, stale_s=10) for _ in range(3)] == [1, 1, 1]
    assert time.monotonic() - started < 1
    gate.set()
    deadline = time.monotonic() + 5
    while cache.shared("c", "index", 0.05, load, stale_s=10) != 2:
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.01)
    assert len(calls) == 2


def test_past_the_stale_window_or_after_a_change_the_caller_reads_afresh():
    calls = []

    def load():
        calls.append(1)
        return len(calls)

    assert cache.shared("c", "index", 0.01, load, stale_s=0.05) == 1
    time.sleep(0.1)
    assert cache.shared("c", "index", 0.01, load, stale_s=0.05) == 2  # too old: read now
    cache.invalidate("c")
    assert cache.shared("c", "index", 5, load, stale_s=60) == 3  # changed here: read now


def test_a_failed_refresh_is_not_kept_and_the_next_caller_sees_the_error():
    answers = iter([1])

    def load():
        try:
            return next(answers)
        except StopIteration:
            raise RuntimeError("broker gone") from None

    assert cache.shared("c", "index", 0.01, load, stale_s=0.2) == 1
    time.sleep(0.05)
    assert cache.shared("c", "index", 0.01, load, stale_s=0.2) == 1  # refresh fails behind
    time.sleep(0.3)
    with pytest.raises(RuntimeError, match="broker gone"):
        cache.shared("c", "index", 0.01, load, stale_s=0.2)


def test_list_index_age_applies_within_pages_only_and_is_off_in_the_tests():
    assert cache.list_index_age() == (None, 0.0)  # outside a page
    with cache.stale_reads(0.0):
        assert cache.list_index_age() == (None, 0.0)  # tests/settings.py: 0
        with override_settings(CONSOLE_LIST_INDEX_S=5.0, CONSOLE_LIST_INDEX_STALE_S=30.0):
            assert cache.list_index_age() == (5.0, 30.0)
