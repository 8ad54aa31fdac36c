"""Consumer lag in messages: how far each partition's committed offset is behind its end.

Pure arithmetic on what the Kafka client already knows, so the poll thread can refresh the
``activity_consumer_lag_messages`` gauge every few seconds without a broker round trip.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from confluent_kafka import KafkaException, TopicPartition

if TYPE_CHECKING:
    from consumer.in_flight import PartitionWork
    from consumer.metrics import Metrics

if TYPE_CHECKING:
    from consumer.kafka_health import KafkaHealth

__all__ = ["OFFSET_INVALID", "forget_lag_gauges", "partition_lag", "update_lag_gauges"]

TP = tuple[str, int]
OFFSET_INVALID = -1001  # librdkafka's "not known (yet)"


class _Watermarks(Protocol):
    def get_watermark_offsets(self, partition: TopicPartition, timeout: float | None = ...,
                              cached: bool = ...) -> tuple[int, int] | None: ...


def partition_lag(consumer: _Watermarks, partitions: Iterable[TP],
                  committed: Mapping[TP, int | None], *,
                  uncached_timeout_s: float | None = None) -> dict[TP, int]:
    """Messages between ``committed[tp]`` (the next offset to read) and the end of each partition.

    The end comes from ``get_watermark_offsets(tp, cached=True)``: the high watermark carried by
    the last fetch response, free to read. It is unknown (librdkafka returns -1001) until the
    first fetch response for the partition arrives: right after an assignment, or for a partition
    paused before it fetched anything. Such partitions are left out of the result (the caller
    keeps the gauge's previous value) unless ``uncached_timeout_s`` is given: then the broker is
    asked (a ListOffsets round trip of up to that long, blocking the caller; use it on a slow
    cadence, not every loop iteration).

    A partition with no committed offset yet is counted from its low watermark (the consumer
    starts there with ``auto.offset.reset=earliest``), or left out when that is unknown too. A
    committed offset below the low watermark (retention deleted those messages) also counts from
    the low watermark: deleted messages are lost, not lag. Lag is never negative.
    """
    lags: dict[TP, int] = {}
    for tp in partitions:
        low, high = _watermarks(consumer, tp, None)
        if high < 0 and uncached_timeout_s is not None:
            low, high = _watermarks(consumer, tp, uncached_timeout_s)
        if high < 0:
            continue
        position = committed.get(tp)
        if position is None or position < 0:
            if low < 0:
                continue
            position = low
        elif low >= 0:
            position = max(position, low)
        lags[tp] = max(0, high - position)
    return lags


def _watermarks(consumer: Any, tp: TP, timeout: float | None) -> tuple[int, int]:
    """(low, high), each -1001 when not known; ``timeout`` None means the cached values."""
    try:
        if timeout is None:
            got = consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
        else:
            got = consumer.get_watermark_offsets(TopicPartition(*tp), timeout=timeout, cached=False)
    except KafkaException:  # e.g. a partition revoked meanwhile; the next round has news
        return OFFSET_INVALID, OFFSET_INVALID
    if got is None:  # the broker did not answer within the timeout
        return OFFSET_INVALID, OFFSET_INVALID
    return int(got[0]), int(got[1])


def update_lag_gauges(metrics: Metrics, consumer: _Watermarks,
                      parts: Mapping[TP, PartitionWork], health: KafkaHealth | None = None) -> None:
    """Lag in messages (end of partition - first unsettled) and seconds (oldest pending's age).
    Unknown is NaN, never 0 nor a stale value: before a partition's first fetch, and while the
    consumer cannot fetch (consumer.kafka_health: which this also checks, every round)."""
    now = time.time()
    if health is not None:
        health.check()
    blind = health is not None and health.unhealthy
    lags = {} if blind else partition_lag(consumer, list(parts),
                                          {tp: part.next_unsettled for tp, part in parts.items()})
    for tp, part in parts.items():
        labels = (tp[0], str(tp[1]))
        metrics.lag_messages.labels(*labels).set(lags.get(tp, math.nan))
        oldest = part.oldest_timestamp
        metrics.time_lag_seconds.labels(*labels).set(max(0.0, now - oldest) if oldest else 0.0)


def forget_lag_gauges(metrics: Metrics, tp: TP) -> None:
    """A revoked partition's gauges go, so a dashboard does not show a lag nobody owns."""
    for gauge in (metrics.lag_messages, metrics.time_lag_seconds):
        with contextlib.suppress(KeyError):
            gauge.remove(tp[0], str(tp[1]))
