"""Lag arithmetic of consumer/lag.py against a fake consumer's watermarks."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.lag import OFFSET_INVALID, partition_lag

UNKNOWN = (OFFSET_INVALID, OFFSET_INVALID)


class FakeConsumer:
    """Cached watermarks as a fetch response left them; ``broker`` answers uncached queries."""

    def __init__(self, cached: dict, broker: dict | None = None):
        self.cached, self.broker = cached, broker or {}
        self.calls: list[tuple[tuple[str, int], bool]] = []

    def get_watermark_offsets(self, tp: TopicPartition, timeout=None, cached=False):
        key = (tp.topic, tp.partition)
        self.calls.append((key, cached))
        if cached:
            return self.cached.get(key, UNKNOWN)
        if key not in self.broker:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        return self.broker[key]


def test_lag_is_the_high_watermark_minus_the_committed_offset():
    c = FakeConsumer({("orders", 0): (0, 120), ("orders", 1): (0, 50)})
    assert partition_lag(c, [("orders", 0), ("orders", 1)], {("orders", 0): 100, ("orders", 1): 50}) \
        == {("orders", 0): 20, ("orders", 1): 0}
    assert all(cached for _, cached in c.calls), "the default must never ask the broker"


def test_lag_is_never_negative():
    # the committed offset can be ahead of a cached high watermark from an older fetch
    c = FakeConsumer({("orders", 0): (0, 100)})
    assert partition_lag(c, [("orders", 0)], {("orders", 0): 105}) == {("orders", 0): 0}


def test_unknown_high_watermark_leaves_the_partition_out():
    c = FakeConsumer({})  # just assigned: no fetch response yet
    assert partition_lag(c, [("orders", 0)], {("orders", 0): 10}) == {}


def test_unknown_high_watermark_asks_the_broker_only_when_allowed():
    c = FakeConsumer({}, broker={("orders", 0): (0, 30)})
    assert partition_lag(c, [("orders", 0)], {("orders", 0): 10}, uncached_timeout_s=1.0) \
        == {("orders", 0): 20}
    assert c.calls == [(("orders", 0), True), (("orders", 0), False)]


def test_a_broker_error_leaves_the_partition_out():
    c = FakeConsumer({})  # the broker does not know it either (raises)
    assert partition_lag(c, [("orders", 0)], {("orders", 0): 10}, uncached_timeout_s=0.1) == {}


def test_nothing_committed_counts_from_the_low_watermark():
    c = FakeConsumer({("orders", 0): (40, 100), ("orders", 1): (OFFSET_INVALID, 100)})
    assert partition_lag(c, [("orders", 0), ("orders", 1)], {("orders", 0): None}) \
        == {("orders", 0): 60}  # partition 1: neither committed nor low known


def test_offsets_deleted_by_retention_are_not_lag():
    c = FakeConsumer({("orders", 0): (500, 600)})
    assert partition_lag(c, [("orders", 0)], {("orders", 0): 100}) == {("orders", 0): 100}


def test_an_unknown_low_watermark_does_not_matter_when_an_offset_is_committed():
    c = FakeConsumer({("orders", 0): (OFFSET_INVALID, 600)})
    assert partition_lag(c, [("orders", 0)], {("orders", 0): 590}) == {("orders", 0): 10}
