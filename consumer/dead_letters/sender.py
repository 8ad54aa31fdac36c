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
import time
from collections.abc import Callable

from consumer.config import BreakerSettings
from consumer.dead_letters.breaker import TopicBreakers
from consumer.dead_letters.producer import TOO_LARGE, DeadLetterProducer
from consumer.in_flight import InFlight, Pending
from consumer.message import Message
from consumer.metrics import Metrics
from consumer.outcomes import EXPECTED_REASONS, Counts, Failure
from consumer.readiness import Readiness

__all__ = ["DeadLetterSender"]

log = logging.getLogger("consumer.loop")

_MAX_BACKOFF_S = 30.0


class DeadLetterSender:
    """Owned by the poll thread; the producer's callbacks run inside its ``poll()``, there too."""

    def __init__(self, producer: DeadLetterProducer, breaker: BreakerSettings, in_flight: InFlight,
                 metrics: Metrics, counts: Counts, readiness: Readiness,
                 pause_topic: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        self.producer = producer
        self.breakers = TopicBreakers(breaker)
        self._in_flight = in_flight
        self._metrics = metrics
        self._counts = counts
        self._readiness = readiness
        self._pause_topic = pause_topic
        self.stopped_topics: set[str] = set()  # topics whose breaker tripped
        self._failing: dict[int, int] = {}  # id(pending) → failed writes in a row
        self._retries: list[tuple[float, Pending, Failure, int]] = []  # (when, …, shrink)
        self._clock = clock

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

    def _write(self, pending: Pending, failure: Failure, shrink: int = 0) -> None:
        self.producer.send(pending.source, failure,
                           on_written=lambda *_: self._written(pending, failure),
                           on_error=lambda *args: self._failed(pending, failure, args[-1], shrink),
                           shrink=shrink)

    def _written(self, pending: Pending, failure: Failure) -> None:
        self._counts.dead_lettered += 1
        self._metrics.dead_letters.labels(pending.source.topic, failure.reason).inc()
        self._in_flight.settle(pending)
        if self._failing.pop(id(pending), None) is not None and not self._failing:
            log.warning("dead letters are written again")
            self._readiness.set("dead_letter_writes", None)

    def _failed(self, pending: Pending, failure: Failure, error: str, shrink: int) -> None:
        # Not done, so not committed: try again rather than lose it (librdkafka already retried
        # for message.timeout.ms; the partition waits, backpressure holds the rest).
        tries = self._failing[id(pending)] = self._failing.get(id(pending), 0) + 1
        wait = min(_MAX_BACKOFF_S, 2.0 ** (tries - 1))
        log.error("could not write the dead letter of %s (%s); trying again in %.0fs",
                  pending.source.where(), error, wait)
        self._metrics.dead_letter_write_failures.labels(pending.source.topic).inc()
        self._readiness.set("dead_letter_writes", f"{len(self._failing)} dead letter(s) not "
                                                  f"written: {error}; their partitions wait")
        if pending.part.forgotten or self.producer.closed:
            self._failing.pop(id(pending), None)
            self._in_flight.stop(pending)
            return
        shrink += error.startswith(TOO_LARGE)
        self._retries.append((self._clock() + wait, pending, failure, shrink))

    def retry_due(self) -> None:
        """Write again the dead letters whose backoff is over (the loop calls it each round)."""
        if not self._retries:
            return
        now, waiting = self._clock(), []
        for due, pending, failure, shrink in self._retries:
            if pending.part.forgotten or self.producer.closed:
                self._failing.pop(id(pending), None)
                self._in_flight.stop(pending)
            elif due <= now:
                self._write(pending, failure, shrink)
            else:
                waiting.append((due, pending, failure, shrink))
        self._retries = waiting

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
