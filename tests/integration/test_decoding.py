"""Decoding against real parts: values produced with confluent-kafka's serializers through the
Apicurio Registry the session started and the real broker, read back and decoded."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from consumer.config import SchemaRegistrySettings
from consumer.decoding import Decoded, RegistryUnavailable, SchemaRegistry, Undecodable, make_decoder
from consumer_devtools.schema_registry import LocalSchemaRegistry
from tests.fixtures.kafka import read_topic

pytestmark = pytest.mark.integration

ORDER_V1 = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "order_id", "type": "long"},
        {"name": "email", "type": "string"},
        {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12,
                                   "scale": 2}},
        {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}
# v2 adds a field with a default: BACKWARD-compatible, so the registry (BACKWARD) accepts it.
ORDER_V2 = {**ORDER_V1, "fields": [*ORDER_V1["fields"],
                                   {"name": "channel", "type": "string", "default": "web"}]}


def _registry(url: str, **settings: Any) -> SchemaRegistry:
    return SchemaRegistry(SchemaRegistrySettings.model_validate({"url": url, **settings}))


def _through_kafka(kafka_broker: Any, topic: str, produce: Callable[..., Any],
                   values: Sequence[bytes]) -> list[bytes]:
    produce(topic, [(None, v) for v in values])
    return [m.value() for m in read_topic(kafka_broker.bootstrap, topic, len(values))]


def _ctx(topic: str) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


def test_avro_values_of_two_schema_versions_decode_with_their_writer_schemas(
        schema_registry, registry_client, kafka_broker, topic_factory, produce):
    topic = topic_factory(prefix="avro")
    v1 = AvroSerializer(registry_client, json.dumps(ORDER_V1))
    v2 = AvroSerializer(registry_client, json.dumps(ORDER_V2))
    from datetime import UTC, datetime
    from decimal import Decimal
    placed = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    wire = [
        v1({"order_id": 820982911946154508, "email": "rachel@example.com",
            "total": Decimal("1234.50"), "placed_at": placed}, _ctx(topic)),
        v2({"order_id": 1234567890123456, "email": "monica@example.com",
            "total": Decimal("0.07"), "placed_at": placed, "channel": "pos"}, _ctx(topic)),
    ]
    read = _through_kafka(kafka_broker, topic, produce, wire)
    decode = make_decoder("avro", _registry(schema_registry.url))

    first, second = (decode(value, topic) for value in read)

    assert isinstance(first, Decoded) and isinstance(second, Decoded)
    assert first.schema_id != second.schema_id
    assert first.value == {"order_id": 820982911946154508, "email": "rachel@example.com",
                           "total": "1234.50", "placed_at": "2024-05-01T10:00:00.123000Z"}
    assert second.value["channel"] == "pos"
    assert second.value["total"] == "0.07"


def test_json_schema_values_decode_and_are_validated(schema_registry, registry_client,
                                                     kafka_broker, topic_factory, produce):
    topic = topic_factory(prefix="jsonschema")
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "title": "Refund",
              "type": "object", "required": ["refund_id", "email"],
              "properties": {"refund_id": {"type": "integer"}, "email": {"type": "string"},
                             "amount": {"type": "string"}}}
    serialize = JSONSerializer(json.dumps(schema), registry_client)
    wire = serialize({"refund_id": 820982911946154508, "email": "joey@example.com",
                      "amount": "10.00"}, _ctx(topic))
    [read] = _through_kafka(kafka_broker, topic, produce, [wire])
    decode = make_decoder("json_schema", _registry(schema_registry.url))

    result = decode(read, topic)

    assert isinstance(result, Decoded), result
    assert result.value == {"refund_id": 820982911946154508, "email": "joey@example.com",
                            "amount": "10.00"}
    invalid = read[:5] + b'{"refund_id": "not a number", "email": "joey@example.com"}'
    broken = decode(invalid, topic)
    assert isinstance(broken, Undecodable) and broken.kind == "corrupt"
    assert "refund_id" in broken.error or "not a number" in broken.error


def _payment_class(package: str) -> type[Any]:
    """A Protobuf message type built here at run time, as a producer's generated code would be."""
    file = descriptor_pb2.FileDescriptorProto(name=f"{package}/payment.proto", package=package,
                                              syntax="proto3")
    message = file.message_type.add(name="Payment")
    f = descriptor_pb2.FieldDescriptorProto
    for number, (name, kind) in enumerate([("payment_id", f.TYPE_INT64), ("email", f.TYPE_STRING),
                                           ("amount_cents", f.TYPE_INT32),
                                           ("status", f.TYPE_STRING)], start=1):
        message.field.add(name=name, number=number, type=kind, label=f.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.Payment"))


def test_protobuf_values_decode_with_a_message_type_built_from_the_registry(
        schema_registry, registry_client, kafka_broker, topic_factory, produce):
    topic = topic_factory(prefix="protobuf")
    payment = _payment_class("shop.t" + topic[-8:])
    serialize = ProtobufSerializer(payment, registry_client, {"use.deprecated.format": False})
    wire = serialize(payment(payment_id=820982911946154508, email="chandler@example.com",
                             amount_cents=4999, status="captured"), _ctx(topic))
    [read] = _through_kafka(kafka_broker, topic, produce, [wire])
    decode = make_decoder("protobuf", _registry(schema_registry.url))

    result = decode(read, topic)

    assert isinstance(result, Decoded), result
    # int64 as a string (proto3 JSON): no digit of the id is lost on the way to a mapping
    assert result.value == {"payment_id": "820982911946154508", "email": "chandler@example.com",
                            "amount_cents": 4999, "status": "captured"}


def test_protobuf_schema_registered_as_proto_text_decodes_too(schema_registry, registry_client,
                                                              subject_factory):
    subject = subject_factory("prototext") + "-value"
    text = ('syntax = "proto3";\npackage shop.text;\n'
            'message Refund {\n  int64 refund_id = 1;\n  string email = 2;\n}\n')
    schema_id = registry_client.register_schema(subject, Schema(text, "PROTOBUF"))
    refund = descriptor_pb2.FileDescriptorProto(name="refund.proto", package="x", syntax="proto3")
    m = refund.message_type.add(name="Refund")
    m.field.add(name="refund_id", number=1, type=3, label=1)
    m.field.add(name="email", number=2, type=9, label=1)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(refund)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("x.Refund"))
    payload = cls(refund_id=42, email="ross@example.com").SerializeToString()
    wire = b"\x00" + schema_id.to_bytes(4, "big") + b"\x00" + payload  # index [0] as one 0 byte

    result = make_decoder("protobuf", _registry(schema_registry.url))(wire, "t")

    assert result == Decoded({"refund_id": "42", "email": "ross@example.com"}, schema_id)


def test_an_unknown_schema_id_is_a_dead_letter_naming_the_id(schema_registry):
    decode = make_decoder("avro", _registry(schema_registry.url))
    wire = b"\x00" + (987654).to_bytes(4, "big") + b"\x02\x04"

    result = decode(wire, "orders")

    assert isinstance(result, Undecodable) and result.kind == "unknown_schema"
    assert "schema id 987654 is unknown to the registry" in result.error
    assert result.failure().reason == "decode"


def test_a_json_value_on_an_avro_topic_is_a_dead_letter_saying_so(schema_registry):
    decode = make_decoder("avro", _registry(schema_registry.url))

    result = decode(b'{"order_id": 1}', "orders")

    assert isinstance(result, Undecodable) and result.kind == "not_wire_format"
    assert "not in the Schema Registry wire format" in result.error
    assert "looks like JSON" in result.error


def test_a_corrupt_avro_payload_is_a_dead_letter(schema_registry, registry_client,
                                                 subject_factory):
    schema_id = registry_client.register_schema(subject_factory("corrupt") + "-value",
                                                Schema(json.dumps(ORDER_V1), "AVRO"))
    decode = make_decoder("avro", _registry(schema_registry.url))

    result = decode(b"\x00" + schema_id.to_bytes(4, "big") + b"\xff", "orders")

    assert isinstance(result, Undecodable) and result.kind == "corrupt"
    assert f"schema id {schema_id}" in result.error


def test_a_registry_that_does_not_answer_is_an_outage_and_the_same_value_decodes_after(
        schema_registry, registry_client, subject_factory):
    schema_id = registry_client.register_schema(subject_factory("paused") + "-value",
                                                Schema(json.dumps(ORDER_V1), "AVRO"))
    wire = AvroSerializer(registry_client, json.dumps(ORDER_V1))
    from datetime import UTC, datetime
    from decimal import Decimal
    value = wire({"order_id": 7, "email": "a@example.com", "total": Decimal("1.00"),
                  "placed_at": datetime(2024, 1, 1, tzinfo=UTC)}, _ctx("paused"))
    assert int.from_bytes(value[1:5], "big") == schema_id
    decode = make_decoder("avro", _registry(schema_registry.url, timeout=1.0))

    with schema_registry.paused():
        during = decode(value, "paused")
    after = decode(value, "paused")

    assert isinstance(during, RegistryUnavailable), during
    assert "did not answer in time" in during.error
    assert isinstance(after, Decoded) and after.value["order_id"] == 7


def test_a_stopped_registry_is_an_outage_not_a_dead_letter(tmp_path):
    registry = LocalSchemaRegistry(tmp_path / "stopped").start()
    try:
        client = SchemaRegistryClient({"url": registry.url})
        schema_id = client.register_schema("stopped-value", Schema(json.dumps(ORDER_V1), "AVRO"))
        client.close()
    finally:
        registry.stop()
    decode = make_decoder("avro", _registry(registry.url))

    result = decode(b"\x00" + schema_id.to_bytes(4, "big") + b"\x02", "stopped")

    assert isinstance(result, RegistryUnavailable), result
    assert "unreachable" in result.error and "ConnectError" in result.error


def test_a_registry_answer_over_the_byte_cap_is_refused(schema_registry, registry_client,
                                                        subject_factory):
    big = {**ORDER_V1, "doc": "x" * 5000}
    schema_id = registry_client.register_schema(subject_factory("big") + "-value",
                                                Schema(json.dumps(big), "AVRO"))
    decode = make_decoder("avro", _registry(schema_registry.url, max_answer_bytes=2048))

    result = decode(b"\x00" + schema_id.to_bytes(4, "big") + b"\x02", "big")

    assert isinstance(result, Undecodable) and result.kind == "schema_unusable"
    assert "over" in result.error and "2048" in result.error


def test_protobuf_second_message_with_a_well_known_timestamp_decodes(
        schema_registry, registry_client, subject_factory):
    from google.protobuf import timestamp_pb2

    package = "shop.wk" + subject_factory("p")[-8:]
    file = descriptor_pb2.FileDescriptorProto(name=f"{package}/refund.proto", package=package,
                                              syntax="proto3",
                                              dependency=["google/protobuf/timestamp.proto"])
    file.message_type.add(name="Order").field.add(name="id", number=1, type=3, label=1)
    refund = file.message_type.add(name="Refund")
    refund.field.add(name="refund_id", number=1, type=9, label=1)
    refund.field.add(name="refunded_at", number=2, type=11, label=1,
                     type_name=".google.protobuf.Timestamp")
    pool = descriptor_pool.DescriptorPool()
    wk = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(wk)
    pool.Add(wk)
    pool.Add(file)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.Refund"))
    topic = subject_factory("refunds")
    serialize = ProtobufSerializer(cls, registry_client, {"use.deprecated.format": False})
    message = cls(refund_id="re_1")
    message.refunded_at.FromSeconds(1714557600)
    wire = serialize(message, _ctx(topic))

    result = make_decoder("protobuf", _registry(schema_registry.url))(wire, topic)

    assert result == Decoded({"refund_id": "re_1", "refunded_at": "2024-05-01T10:00:00Z"},
                             int.from_bytes(wire[1:5], "big"))


def test_an_unknown_id_is_remembered_so_a_burst_of_them_costs_one_request(schema_registry):
    decode = make_decoder("avro", _registry(schema_registry.url, timeout=1.0))
    wire = b"\x00" + (987655).to_bytes(4, "big") + b"\x02"
    first = decode(wire, "orders")

    with schema_registry.paused():  # a request now would time out: none is made
        again = decode(wire, "orders")

    assert isinstance(first, Undecodable) and first.kind == "unknown_schema"
    assert again == Undecodable("unknown_schema", again.error)  # type: ignore[union-attr]
    assert "schema id 987655 is unknown" in again.error  # type: ignore[union-attr]
