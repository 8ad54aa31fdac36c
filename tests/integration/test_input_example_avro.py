"""The Avro worked example (examples/inputs/avro-orders) end to end through real parts: the
record serialized with confluent-kafka's AvroSerializer against the session's Apicurio Registry,
produced to and consumed from the real broker, decoded, mapped, contract-checked."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from consumer.config import SchemaRegistrySettings
from consumer.decoding import Decoded, SchemaRegistry, make_decoder
from consumer.message import Message
from tests.fixtures.kafka import read_topic
from tests.unit.inputs.chain import EXAMPLES, example_mapping, expected, timeline
from transforms import EventMeta

pytestmark = pytest.mark.integration


def _avro_native(value: dict[str, Any]) -> dict[str, Any]:
    """event.json writes the decimal and the timestamp as text; the serializer wants objects."""
    return {**value, "total": Decimal(value["total"]),
            "placed_at": datetime.fromisoformat(value["placed_at"])}


def test_the_avro_example_record_becomes_the_expected_activity(
        schema_registry, registry_client, kafka_broker, topic_factory, produce):
    example = EXAMPLES / "avro-orders"
    record = json.loads((example / "event.json").read_text())
    topic = topic_factory(prefix="checkout.orders")
    serialize = AvroSerializer(registry_client, (example / "order.avsc").read_text())
    wire = serialize(_avro_native(record["value"]), SerializationContext(topic, MessageField.VALUE))
    produce(topic, [(record["key"].encode(), wire, None)])
    [kafka_message] = read_topic(kafka_broker.bootstrap, topic, 1)
    msg = Message.from_kafka(kafka_message)
    settings = SchemaRegistrySettings.model_validate({"url": schema_registry.url})
    decode = make_decoder("avro", SchemaRegistry(settings))

    decoded = decode(msg.value, msg.topic)

    assert isinstance(decoded, Decoded), decoded
    meta = EventMeta(msg.topic, msg.partition, msg.offset, msg.timestamp, msg.key, msg.headers)
    became = timeline(decoded.value, meta, "none", example_mapping("avro-orders"))
    want = expected("avro-orders")
    want[0]["body"]["activity"]["source"]["id"] = topic  # the mapping names $topic: a uuid one here
    assert became == want
