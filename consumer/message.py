"""A Kafka message as the pipeline sees it: a small frozen value, detached from librdkafka."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException

__all__ = ["Message", "is_kafka_error"]

log = logging.getLogger("consumer.loop")

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int | None  # the producer's or broker's timestamp; None when the broker has none

    @classmethod
    def from_kafka(cls, m: Any) -> Message:
        kind, ts = m.timestamp()
        return cls(
            topic=m.topic(),
            partition=m.partition(),
            offset=m.offset(),
            key=m.key(),
            value=m.value(),
            headers=tuple(m.headers() or ()),
            timestamp_ms=ts if kind != 0 else None,  # 0 = TIMESTAMP_NOT_AVAILABLE
        )

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)

    @property
    def timestamp(self) -> datetime | None:
        if self.timestamp_ms is None:
            return None
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    def where(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


def is_kafka_error(m: Any) -> bool:
    """An error librdkafka hands over as a message: raised when fatal, else logged (a partition's
    end quietly); True means the caller skips it."""
    err = m.error()
    if err is None:
        return False
    if err.fatal():
        raise KafkaException(err)
    if err.code() != KafkaError._PARTITION_EOF:
        log.warning("kafka error: %s", err.str())
    return True
