"""The waiting topic exists before the consumer subscribes to it (consumer.contacts.park_record).

Created at start when missing, with the broker's default replication factor. Where the
consumer's credentials may not create topics, the operator creates it (the log line says how);
until then parking fails loudly and its messages stay uncommitted, so nothing is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from consumer.config.kafka import client_settings

__all__ = ["ensure_waiting_topic"]

log = logging.getLogger("consumer.waiting_topic")


def ensure_waiting_topic(kafka: dict[str, Any], name: str, partitions: int,
                         timeout_s: float = 15.0) -> None:
    settings: dict[str, Any] = {**client_settings(kafka), "logger": logging.getLogger("librdkafka.admin")}
    admin = AdminClient(settings)
    try:
        if name in admin.list_topics(timeout=timeout_s).topics:
            return
        # replication_factor -1: the broker's default.replication.factor (KIP-464)
        admin.create_topics([NewTopic(name, partitions, -1)])[name].result(timeout=timeout_s)
        log.info("created the waiting topic", extra={"topic": name, "partitions": partitions})
    except KafkaException as e:
        if "TOPIC_ALREADY_EXISTS" in str(e):
            return
        log.error("cannot create the waiting topic %s (%s): events whose contact is not known "
                  "yet cannot be parked until it exists; create it (%d partitions, like the "
                  "source topics' retention) or grant this consumer CREATE on it",
                  name, e.args[0].str() if e.args else e, partitions)
