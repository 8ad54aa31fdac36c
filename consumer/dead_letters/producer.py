"""Dead letters: messages that cannot become activities, kept with the reason why; of any size.

The dead-letter record is the original message (key, value and headers untouched, so a redrive
is a plain re-produce) plus ``dlq.*`` headers that say where it came from and what went wrong.
Its offset is only marked done once the broker has acknowledged the dead letter: a dead letter
that was never written would be a lost message.

A message too large for the dead-letter topic (its ``max.message.bytes``, learnt from the broker
once per topic, or this producer's ``message.max.bytes``) is written as a truncated copy: the
start of its value, no original headers, and ``dlq.truncated``, ``dlq.original.size`` and
``dlq.original.sha256`` beside the usual coordinates, so it can be found and redriven from its
source. A record the broker still refuses as too large is truncated further on the next try.

Nothing here raises for a record: a produce librdkafka refuses on the spot (too large, queue
full) is reported through ``on_error`` on the next :meth:`poll`, like a failed delivery.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from consumer.config.kafka import client_settings, producer_settings
from consumer.message import Message
from consumer.outcomes import Failure

__all__ = ["TOO_LARGE", "DeadLetterProducer"]

log = logging.getLogger("consumer.loop")

TOO_LARGE = "too large"  # the start of an on_error reason when the record does not fit
_RECORD_OVERHEAD = 4096  # record batch framing, key and the dlq.* headers, with room to spare
_DEFAULT_LIMIT = 1_000_000  # librdkafka's message.max.bytes and near Kafka's default topic limit


class DeadLetterProducer:
    """Writes dead letters (and park records); calls ``on_written`` once the broker has them.

    Only the poll thread uses it: its callbacks run inside :meth:`poll`.
    """

    def __init__(self, kafka: dict[str, Any], topic_for: Callable[[str], str], group: str):
        settings = {**producer_settings(kafka), "logger": logging.getLogger("librdkafka.producer")}
        self._producer: Producer | None = Producer(settings)
        self._admin_settings = client_settings(kafka)
        self._own_limit = int(settings.get("message.max.bytes", _DEFAULT_LIMIT))
        self._limits: dict[str, int] = {}  # topic → the largest record it takes (learnt once)
        self._topic_for = topic_for
        self._group = group
        self._refused: list[Callable[[], None]] = []  # on_error calls for the next poll()
        self.unacknowledged = 0

    def send(self, msg: Message, failure: Failure, on_written: Callable[[Message, Failure], None],
             on_error: Callable[[Message, Failure, str], None], shrink: int = 0) -> None:
        """Write ``msg``'s dead letter; ``shrink`` (a retry after the broker said too large):
        truncate it to 1/2**shrink of what the topic's limit allows."""
        topic = self._topic_for(msg.topic)
        limit = (self.limit(topic) - _RECORD_OVERHEAD) >> shrink
        headers = failure.headers(msg, self._group)
        size = _size(msg, headers)
        if size > limit:
            msg, headers = _truncated(msg, headers, size, max(0, limit))
            log.warning("dead letter of %s is %d bytes, over what %s takes (%d): writing a "
                        "truncated copy with its coordinates, size and sha256", msg.where(),
                        size, topic, limit)
        self.produce(topic, msg, headers, on_written=lambda: on_written(msg, failure),
                     on_error=lambda error: on_error(msg, failure, error))

    def produce(self, topic: str, msg: Message, headers: Any, on_written: Callable[[], None],
                on_error: Callable[[str], None]) -> None:
        """Write ``msg``'s key and value with ``headers`` to ``topic`` (dead letters, park
        records); ``on_written`` once the broker has it, ``on_error(reason)`` if it never will
        (a reason starting with TOO_LARGE when the record does not fit)."""
        def delivered(err: KafkaError | None, _record: Any) -> None:
            self.unacknowledged -= 1
            if err is None:
                on_written()
            else:
                on_error(_reason(err))

        if self._producer is None:
            raise RuntimeError(f"record for {msg.where()} after the producer was closed "
                               "(a bug: the loop checks `closed` first)")
        self.unacknowledged += 1
        try:
            self._producer.produce(topic, value=msg.value, key=msg.key, headers=list(headers),
                                   on_delivery=delivered)
        except (KafkaException, BufferError) as e:  # refused before it was queued
            self.unacknowledged -= 1
            error = e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None
            reason = _reason(error) if error is not None else f"{type(e).__name__}: {e}"
            self._refused.append(lambda: on_error(reason))

    def limit(self, topic: str) -> int:
        """The largest record ``topic`` takes: its max.message.bytes (or the broker's
        message.max.bytes) as the broker says, and never above this producer's own limit."""
        if topic not in self._limits:
            self._limits[topic] = min(self._own_limit, self._broker_limit(topic))
        return self._limits[topic]

    def _broker_limit(self, topic: str) -> int:
        """Asked once per topic; without the DescribeConfigs permission, or a broker that does
        not answer within 5 s, the producer's limit stands (a refusal then shrinks the record)."""
        try:
            settings: dict[str, Any] = {**self._admin_settings,
                                        "logger": logging.getLogger("librdkafka.admin")}
            admin = AdminClient(settings)
            resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
            configs = admin.describe_configs([resource], request_timeout=5)[resource].result(5)
            return int(configs["max.message.bytes"].value)
        except Exception as e:  # a missing topic (created on first write), ACLs, timeouts
            log.debug("max.message.bytes of %s unknown (%s); using %d", topic, e, self._own_limit)
            return self._own_limit

    @property
    def closed(self) -> bool:
        return self._producer is None

    def poll(self, timeout: float = 0) -> None:
        refused, self._refused = self._refused, []
        for tell in refused:
            tell()
        if self._producer is not None:
            self._producer.poll(timeout)

    def close(self, timeout: float) -> int:
        """Wait for outstanding dead letters (their callbacks run here); returns how many are left."""
        if self._producer is None:
            return 0
        left = self._producer.flush(timeout)
        self._producer = None  # librdkafka's handle is destroyed with its last reference
        return left


def _reason(err: KafkaError) -> str:
    if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
        return f"{TOO_LARGE}: {err.str()}"
    return err.str()


def _size(msg: Message, headers: list[tuple[str, bytes]]) -> int:
    return len(msg.value or b"") + len(msg.key or b"") + sum(len(k) + len(v) for k, v in headers)


def _truncated(msg: Message, headers: list[tuple[str, bytes]], size: int, limit: int
               ) -> tuple[Message, list[tuple[str, bytes]]]:
    """The start of the value that fits, the ``dlq.*`` headers, and what was cut."""
    value = msg.value or b""
    dlq = [(k, v) for k, v in headers if k.startswith("dlq.")]
    dlq += [("dlq.truncated", b"true"), ("dlq.original.size", str(size).encode()),
            ("dlq.original.sha256", hashlib.sha256(value).hexdigest().encode())]
    room = max(0, limit - len(msg.key or b"") - sum(len(k) + len(v) for k, v in dlq))
    short = Message(msg.topic, msg.partition, msg.offset, msg.key, value[:room], (), msg.timestamp_ms)
    return short, dlq
