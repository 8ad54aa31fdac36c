"""Dead letters: messages that cannot become activities, kept with the reason why.

The dead-letter record is the original message (key, value and headers untouched, so a redrive
is a plain re-produce) plus ``dlq.*`` headers that say where it came from and what went wrong.
Its offset is only marked done once the broker has acknowledged the dead letter: a dead letter
that was never written would be a lost message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Producer

from consumer.config.kafka import producer_settings
from consumer.message import Message

__all__ = ["EXPECTED_REASONS", "REASONS", "DeadLetterProducer", "Failure"]

# Reason classes, each a different fix for the operator.
REASONS = {
    "decode": "the message value is not JSON (fix the producer)",
    "no_route": "no subscription claims the topic (fix the subscription file)",
    "transform": "the transform rejected or crashed on the event (fix the event or the transform)",
    "validation": "the activity breaks the Freshdesk contract (fix the transform)",
    "rejected": "Freshdesk answered 4xx for the activity (see dlq.response)",
    "retries_exhausted": "Freshdesk kept failing (5xx, timeouts) for this activity",
    "contact_unresolved": "no event taught the contact directory who the customer is within "
                          "contacts.wait_s (feed it, then redrive)",
}
# Data-dependent outcomes, not a bad deploy: they never count toward the dead-letter breaker.
EXPECTED_REASONS = frozenset({"contact_unresolved"})


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str  # one of REASONS
    error: str  # what an operator reads first
    status: int | None = None
    response: str | None = None
    attempts: int = 1
    first_failure: float | None = None  # epoch seconds
    last_failure: float | None = None

    def headers(self, msg: Message, group: str) -> list[tuple[str, bytes]]:
        now = time.time()
        extra = {
            "dlq.reason": self.reason,
            "dlq.error": self.error,
            "dlq.original.topic": msg.topic,
            "dlq.original.partition": str(msg.partition),
            "dlq.original.offset": str(msg.offset),
            "dlq.consumer.group": group,
            "dlq.attempts": str(self.attempts),
            "dlq.first_failure": f"{self.first_failure or now:.3f}",
            "dlq.last_failure": f"{self.last_failure or now:.3f}",
        }
        if msg.timestamp_ms is not None:
            extra["dlq.original.timestamp"] = str(msg.timestamp_ms)
        if self.status is not None:
            extra["dlq.status"] = str(self.status)
        if self.response is not None:
            extra["dlq.response"] = self.response
        kept = [(k, v) for k, v in msg.headers if not k.startswith("dlq.") and v is not None]
        return kept + [(k, v.encode()) for k, v in extra.items()]


class DeadLetterProducer:
    """Writes dead letters; calls ``on_written(msg)`` once the broker has them.

    Only the poll thread uses it: its callbacks run inside :meth:`poll`.
    """

    def __init__(self, kafka: dict[str, Any], topic_for: Callable[[str], str], group: str):
        settings = {**producer_settings(kafka), "logger": logging.getLogger("librdkafka.producer")}
        self._producer: Producer | None = Producer(settings)
        self._topic_for = topic_for
        self._group = group
        self.unacknowledged = 0

    def send(self, msg: Message, failure: Failure, on_written: Callable[[Message, Failure], None],
             on_error: Callable[[Message, Failure, str], None]) -> None:
        self.produce(self._topic_for(msg.topic), msg, failure.headers(msg, self._group),
                     on_written=lambda: on_written(msg, failure),
                     on_error=lambda error: on_error(msg, failure, error))

    def produce(self, topic: str, msg: Message, headers: Any, on_written: Callable[[], None],
                on_error: Callable[[str], None]) -> None:
        """Write ``msg``'s key and value with ``headers`` to ``topic`` (dead letters, park
        records); ``on_written`` once the broker has it, ``on_error(reason)`` if it never will."""
        def delivered(err: KafkaError | None, _record: Any) -> None:
            self.unacknowledged -= 1
            if err is None:
                on_written()
            else:
                on_error(err.str())

        if self._producer is None:
            raise RuntimeError(f"record for {msg.where()} after the producer was closed "
                               "(a bug: the loop checks `closed` first)")
        self.unacknowledged += 1
        self._producer.produce(topic, value=msg.value, key=msg.key, headers=list(headers),
                               on_delivery=delivered)

    @property
    def closed(self) -> bool:
        return self._producer is None

    def poll(self, timeout: float = 0) -> None:
        if self._producer is not None:
            self._producer.poll(timeout)

    def close(self, timeout: float) -> int:
        """Wait for outstanding dead letters (their callbacks run here); returns how many are left."""
        if self._producer is None:
            return 0
        left = self._producer.flush(timeout)
        self._producer = None  # librdkafka's handle is destroyed with its last reference
        return left
