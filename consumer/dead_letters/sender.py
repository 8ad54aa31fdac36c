"""The poll thread's side of dead letters: send, settle once acknowledged, retry, or hold.

A Failure becomes a dead letter here. Its message is settled (its offset may be committed) only
once the broker has acknowledged the dead letter: one that was never written would be a lost
message. A write that fails is sent again; meanwhile the message holds its partition's watermark.

Before sending, the topic's breaker (consumer.dead_letters.breaker) is asked: a flood of dead
letters (a bad deploy) trips it, and then nothing more of that topic is dead-lettered or
committed: ``pause_topic(topic)`` tells the loop to stop the topic, and readiness says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from consumer.config import BreakerSettings
from consumer.dead_letters.breaker import TopicBreakers
from consumer.dead_letters.producer import DeadLetterProducer
from consumer.in_flight import InFlight, Pending
from consumer.message import Message
from consumer.metrics import Metrics
from consumer.outcomes import EXPECTED_REASONS, Counts, Failure
from consumer.readiness import Readiness

__all__ = ["DeadLetterSender"]

log = logging.getLogger("consumer.loop")


class DeadLetterSender:
    """Owned by the poll thread; the producer's callbacks run inside its ``poll()``, there too."""

    def __init__(self, producer: DeadLetterProducer, breaker: BreakerSettings, in_flight: InFlight,
                 metrics: Metrics, counts: Counts, readiness: Readiness,
                 pause_topic: Callable[[str], None]):
        self.producer = producer
        self.breakers = TopicBreakers(breaker)
        self._in_flight = in_flight
        self._metrics = metrics
        self._counts = counts
        self._readiness = readiness
        self._pause_topic = pause_topic
        self.stopped_topics: set[str] = set()  # topics whose breaker tripped

    def send(self, pending: Pending, failure: Failure) -> None:
        msg = pending.source  # a parked event's dead letter goes to its own topic's
        expected = failure.reason in EXPECTED_REASONS  # missing data, not a bad deploy
        tripped = self.breakers.tripped(msg.topic) or (
            None if expected else self.breakers.record(msg.topic, True))
        if tripped:
            self._hold(pending, msg, tripped)
            return
        if self.producer.closed:  # a late failure during shutdown: left uncommitted, redelivered
            log.warning("not dead-lettering %s during shutdown: %s; it stays uncommitted",
                        msg.where(), failure.error)
            self._in_flight.stop(pending)
            return
        log.warning("dead-lettering %s: %s: %s", msg.where(), failure.reason, failure.error,
                    extra={"status": failure.status} if failure.status else None)
        self._in_flight.writing(pending, failure)
        self._write(pending, failure)

    def _write(self, pending: Pending, failure: Failure) -> None:
        self.producer.send(pending.source, failure,
                           on_written=lambda *_: self._written(pending, failure),
                           on_error=lambda *args: self._failed(pending, failure, args[-1]))

    def _written(self, pending: Pending, failure: Failure) -> None:
        self._counts.dead_lettered += 1
        self._metrics.dead_letters.labels(pending.source.topic, failure.reason).inc()
        self._in_flight.settle(pending)

    def _failed(self, pending: Pending, failure: Failure, error: str) -> None:
        # Not done, so not committed: try again rather than lose it (librdkafka already retried
        # for message.timeout.ms; the partition waits, backpressure holds the rest).
        log.error("could not write dead letter for %s (%s); trying again",
                  pending.source.where(), error)
        if pending.part.forgotten or self.producer.closed:
            self._in_flight.stop(pending)
            return
        self._write(pending, failure)

    def _hold(self, pending: Pending, msg: Message, reason: str) -> None:
        """The topic's breaker tripped: keep the message unsettled (so uncommitted), stop the topic."""
        self._in_flight.stop(pending)  # never settled: it holds its partition's watermark
        if msg.topic not in self.stopped_topics:
            self.stopped_topics.add(msg.topic)
            log.error("dead-letter breaker tripped for topic %s: %s. Its partitions are paused and "
                      "nothing more is dead-lettered or committed for it; fix the cause (a bad "
                      "deploy?) and restart", msg.topic, reason)
            self._pause_topic(msg.topic)
            self._metrics.halted.labels("dead_letter_breaker").set(1)
            tripped = ", ".join(sorted(self.stopped_topics))
            self._readiness.set("dead_letters", f"dead-letter breaker tripped for {tripped}")
