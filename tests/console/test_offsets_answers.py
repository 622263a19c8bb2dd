"""How a ListOffsets batch's answer becomes offsets and errors (no broker: the answer is
given as the client's own call gives it, console/kafka/offsets.py `_results`)."""

import concurrent.futures

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from console.kafka.errors import KafkaConsoleError
from console.kafka.offsets import _Asked, _results


class Info:
    def __init__(self, offset):
        self.offset = offset


def _asked(answer=None, exc=None):
    request = [TopicPartition("t", p, -1) for p in range(3)]
    f = concurrent.futures.Future()
    f.set_running_or_notify_cancel()
    if exc is not None:
        f.set_exception(exc)
    else:
        f.set_result(answer)
    return _Asked(request, answer=f)


def test_each_partition_gets_its_offset_or_its_own_error():
    answer = {
        TopicPartition("t", 0): Info(42),
        TopicPartition("t", 1): KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION),
    }  # partition 2 left out of the answer
    out = _results(_asked(answer))
    assert out[("t", 0)] == 42
    assert isinstance(out[("t", 1)], KafkaConsoleError)
    assert "t[1]" in str(out[("t", 1)])
    assert isinstance(out[("t", 2)], KafkaConsoleError)


def test_a_batch_that_failed_gives_every_partition_the_error():
    out = _results(_asked(exc=KafkaException(KafkaError(KafkaError._TIMED_OUT))))
    assert set(out) == {("t", 0), ("t", 1), ("t", 2)}
    assert all(isinstance(v, KafkaConsoleError) for v in out.values())


def test_a_client_that_cannot_be_made_is_a_console_error(monkeypatch):
    from confluent_kafka.admin import OffsetSpec

    from console.kafka import offsets

    def refused(_cluster):
        raise KafkaException(KafkaError(KafkaError._INVALID_ARG, "bad setting"))

    monkeypatch.setattr(offsets, "admin_for", refused)
    try:
        offsets._ask(object(), {("t", 0): OffsetSpec.latest()}, committed_only=False)
    except KafkaConsoleError:
        pass
    else:
        raise AssertionError("no error")
