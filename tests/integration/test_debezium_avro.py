"""Debezium change events in Avro (Confluent's AvroConverter): the Connect logical types written
into the Avro schema as connect.name decode as they do from the JSON converter's inline schema.
Real parts: the session's Apicurio Registry and broker."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from consumer.config import SchemaRegistrySettings
from consumer.decoding import Decoded, SchemaRegistry, make_decoder
from tests.fixtures.kafka import read_topic
from tests.unit.inputs.fixtures import meta
from transforms.envelopes import Unwrapped, envelope_for

pytestmark = pytest.mark.integration

# The shape AvroConverter gives a Debezium Postgres orders table (connect.* properties as its
# AvroData writes them; Connect's Decimal also gets Avro's own decimal logical type).
_ROW = {
    "type": "record", "name": "Value", "namespace": "shop.public.orders",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "status", "type": ["null", "string"], "default": None},
        {"name": "total", "type": ["null", {
            "type": "bytes", "scale": 2, "precision": 10, "connect.version": 1,
            "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"},
            "connect.name": "org.apache.kafka.connect.data.Decimal", "logicalType": "decimal"}],
         "default": None},
        {"name": "discount", "type": ["null", {
            "type": "record", "name": "VariableScaleDecimal", "namespace": "io.debezium.data",
            "fields": [{"name": "scale", "type": "int"}, {"name": "value", "type": "bytes"}],
            "connect.doc": "Variable scaled decimal", "connect.version": 1,
            "connect.name": "io.debezium.data.VariableScaleDecimal"}], "default": None},
        {"name": "placed_at", "type": ["null", {"type": "string", "connect.version": 1,
                                                "connect.name": "io.debezium.time.ZonedTimestamp"}],
         "default": None},
        {"name": "updated_at", "type": ["null", {"type": "long", "connect.version": 1,
                                                 "connect.name": "io.debezium.time.MicroTimestamp"}],
         "default": None},
        {"name": "ship_by", "type": ["null", {"type": "int", "connect.version": 1,
                                              "connect.name": "io.debezium.time.Date"}],
         "default": None},
    ],
    "connect.name": "shop.public.orders.Value",
}
ENVELOPE = {
    "type": "record", "name": "Envelope", "namespace": "shop.public.orders",
    "fields": [
        {"name": "before", "type": ["null", _ROW], "default": None},
        {"name": "after", "type": ["null", "Value"], "default": None},
        {"name": "source", "type": {"type": "record", "name": "Source",
                                    "namespace": "io.debezium.connector.postgresql",
                                    "fields": [{"name": "db", "type": "string"},
                                               {"name": "schema", "type": "string"},
                                               {"name": "table", "type": "string"},
                                               {"name": "ts_ms", "type": "long"}]}},
        {"name": "op", "type": "string"},
        {"name": "ts_ms", "type": ["null", "long"], "default": None},
    ],
    "connect.name": "shop.public.orders.Envelope",
}


def _row(status: str, updated_us: int) -> dict[str, object]:
    return {"id": 820982911946154508, "status": status, "total": Decimal("1234.50"),
            "discount": {"scale": 3, "value": (5250).to_bytes(2, "big", signed=True)},
            "placed_at": "2018-06-20T13:13:16.945104+02:00", "updated_at": updated_us,
            "ship_by": 17702}


def test_a_debezium_avro_update_decodes_its_logical_types_like_the_json_converters(
        schema_registry, registry_client, kafka_broker, topic_factory, produce):
    topic = topic_factory(prefix="shop.public.orders")
    serialize = AvroSerializer(registry_client, json.dumps(ENVELOPE))
    change = {"before": _row("paid", 1529507596945104), "after": _row("shipped", 1529511196945104),
              "source": {"db": "shop", "schema": "public", "table": "orders",
                         "ts_ms": 1529511196945},
              "op": "u", "ts_ms": 1529511197012}
    produce(topic, [(None, serialize(change, SerializationContext(topic, MessageField.VALUE)))])
    [read] = read_topic(kafka_broker.bootstrap, topic, 1)
    registry = SchemaRegistry(SchemaRegistrySettings.model_validate({"url": schema_registry.url}))
    decode = make_decoder("avro", registry, connect_envelope=True)

    decoded = decode(read.value(), topic)
    assert isinstance(decoded, Decoded), decoded
    result = envelope_for("debezium")(decoded.value, meta(topic=topic))

    assert isinstance(result, Unwrapped)
    assert result.event == {"id": 820982911946154508, "status": "shipped", "total": "1234.50",
                            "discount": "5.250", "placed_at": "2018-06-20T11:13:16.945104Z",
                            "updated_at": "2018-06-20T16:13:16.945104Z", "ship_by": "2018-06-20"}
    assert result.bindings["before"]["status"] == "paid"
    assert result.bindings["op"] == "u" and result.bindings["source"]["table"] == "orders"
    assert base64.b64decode(decoded.value["payload"]["after"]["discount"]["value"]) == b"\x14\x82"
