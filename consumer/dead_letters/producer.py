"""Dead letters: messages that cannot become activities, kept with the reason why.

The dead-letter record is the original message (key, value and headers untouched, so a redrive
is a plain re-produce) plus ``dlq.*`` headers that say where it came from and what went wrong.
Its offset is only marked done once the broker has acknowledged the dead letter: a dead letter
that was never written would be a lost message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Producer

from consumer.config.kafka import producer_settings
from consumer.message import Message
from consumer.outcomes import Failure

__all__ = ["DeadLetterProducer"]

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
