"""When to commit: at most every ``interval_s`` seconds, or sooner after ``every_messages``.

What to commit (each partition's watermark) falls out of consumer.in_flight.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException, TopicPartition

if TYPE_CHECKING:
    from consumer.config import ProcessingSettings
    from consumer.in_flight import InFlight
    from consumer.metrics import Metrics

__all__ = ["CommitPolicy", "commit"]

log = logging.getLogger("consumer.loop")


@dataclass(frozen=True, slots=True)
class CommitPolicy:
    """Commit at most every ``interval_s`` seconds, or sooner after ``every_messages``.

    Revokes and shutdown always commit, whatever the policy says.
    """

    interval_s: float
    every_messages: int

    @classmethod
    def of(cls, processing: ProcessingSettings) -> CommitPolicy:
        return cls(processing.commit_interval_s, processing.commit_every_messages)

    def due(self, now: float, last_commit: float, settled_since: int) -> bool:
        if settled_since == 0:
            return False
        return settled_since >= self.every_messages or now - last_commit >= self.interval_s


def commit(consumer: Any, in_flight: InFlight, metrics: Metrics,
           only: set[tuple[str, int]] | None = None) -> None:
    """Commit the watermarks that moved (of the partitions ``only`` names; None: all), at once
    (synchronous: a revoke must not return before its offsets are in)."""
    offsets = in_flight.to_commit(only)
    if not offsets:
        return
    started = time.perf_counter()
    try:
        consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                        asynchronous=False)
    except KafkaException as e:  # e.g. mid-rebalance: the next commit carries it again
        metrics.commit_failures.inc()
        log.warning("commit failed: %s", e.args[0].str() if e.args else e)
        return
    finally:
        metrics.commit_seconds.observe(time.perf_counter() - started)
    in_flight.mark_committed(offsets)
