"""The ``kafka:`` section as librdkafka takes it: the consumer's, the producers' and the admin
client's settings derived from it in one place, and its secrets told apart for display.

Any librdkafka consumer setting passes through the file. What the service adds or overrides is
here, so that ``run`` and ``check-config`` build the very same dictionaries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from consumer.config.problems import Problem

__all__ = ["SECRET_KAFKA_KEYS", "client_settings", "consumer_settings", "for_display",
           "problems", "producer_settings"]

KafkaSettings = Mapping[str, str | int | float | bool]

# librdkafka keys whose values are secrets: redacted wherever the settings are shown.
SECRET_KAFKA_KEYS = re.compile(r"password|secret|sasl\.oauthbearer\.config|ssl\.key\.pem", re.I)

_CONSUMER_ONLY = (
    "group.", "enable.auto", "auto.", "partition.assignment", "session.timeout", "heartbeat",
    "max.poll", "fetch.", "isolation.level", "queued.", "check.crcs", "group.instance.id",
    "coordinator.", "consume.", "allow.auto.create.topics", "offset.store",
)


def for_display(kafka: KafkaSettings) -> dict[str, Any]:
    """The Kafka settings with secrets replaced, for logs and errors."""
    return {k: ("***" if SECRET_KAFKA_KEYS.search(k) else v) for k, v in kafka.items()}


def secret_values(kafka: KafkaSettings) -> list[str]:
    return [str(v) for k, v in kafka.items() if SECRET_KAFKA_KEYS.search(k)]


def consumer_settings(kafka: KafkaSettings, max_pending_bytes: int = 64 * 1024 * 1024
                      ) -> dict[str, Any]:
    """What the service's Consumer is built with: our defaults, the file's settings over them,
    and what is not negotiable over both."""
    queue_kb = max(1024, min(8192, max_pending_bytes // 4 // 1024))
    settings: dict[str, Any] = {
        "partition.assignment.strategy": "cooperative-sticky",
        "auto.offset.reset": "earliest",
        # Read-ahead sized for a consumer that holds at most max_pending_bytes: librdkafka's
        # defaults (64 MB queued, 50 MB per fetch) doubled peak RSS draining a backlog
        # (bench memory: 187 → 95-100 MB) without making filtering or delivery faster. A quarter
        # of processing.max_pending_bytes, at most 8 MB, and a fetch at most half of that (one
        # message larger than a fetch still comes: the broker returns the first whole).
        "queued.max.messages.kbytes": queue_kb,
        "fetch.max.bytes": min(2 * 1024 * 1024, queue_kb * 1024 // 2),
        # With the smaller queue full, librdkafka waits this long before fetching again
        # (1000 ms by default): a second's idle gap each time. bench filter 2 KB: 5,700 → 43,000/s.
        "fetch.queue.backoff.ms": 20,
    }
    settings.update(kafka)
    # Not negotiable: offsets are committed by the loop, only for settled messages.
    settings.update({"enable.auto.commit": False, "enable.auto.offset.store": False})
    return settings


def client_settings(kafka: KafkaSettings) -> dict[str, Any]:
    """The file's librdkafka settings without the consumer-only ones: what a producer or an admin
    client of the same cluster takes (bootstrap, security, SASL)."""
    return {k: v for k, v in kafka.items() if not k.startswith(_CONSUMER_ONLY)}


def producer_settings(kafka: KafkaSettings) -> dict[str, Any]:
    """The producer of dead letters and park records: every record acknowledged by all replicas,
    written once (idempotent), batched for a few milliseconds."""
    return {**client_settings(kafka), "acks": "all", "enable.idempotence": True, "linger.ms": 5}


_PROPERTY = re.compile(r'"([a-z0-9._]+)"|`([a-z0-9._]+)`')


def problems(kafka: KafkaSettings) -> list[Problem]:
    """What librdkafka refuses in the settings ``run`` builds (an unknown key, a bad value,
    settings wrong together such as message.max.bytes above fetch.max.bytes): the consumer and
    the dead-letter producer are made with them, without bootstrap servers, so nothing connects,
    and closed at once. ``check-config`` and ``run`` both ask, before anything else starts."""
    from confluent_kafka import Consumer, KafkaException, Producer

    found: list[Problem] = []
    # No broker to reach: nothing is contacted (and librdkafka's notice saying so is not logged).
    offline = {"bootstrap.servers": "", "log_level": 3}
    for role, make, settings in (("consumer", Consumer, consumer_settings(kafka)),
                                 ("dead-letter producer", Producer, producer_settings(kafka))):
        try:
            client = make({**settings, **offline})
        except KafkaException as e:
            text = e.args[0].str() if e.args else str(e)
            names = [a or b for a, b in _PROPERTY.findall(text)]
            key = next((n for n in names if n in kafka), names[0] if names else "")
            found.append(Problem(key=f"kafka.{key}" if key else "kafka",
                                 message=f"librdkafka refuses the {role}'s settings: {text}",
                                 fix="see librdkafka's CONFIGURATION.md for the key and its values; "
                                     "every key of kafka: goes to librdkafka as written"))
            break  # the producer's settings come from the same keys: one report is enough
        else:
            if role == "consumer":
                client.close()
    return found
