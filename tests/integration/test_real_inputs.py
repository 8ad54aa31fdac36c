"""Real inputs through the running consumer: values produced with confluent-kafka's serializers
against the session's Schema Registry and the real broker, Debezium and CloudEvents messages,
each subscription with its format, envelope and mapping, onto the sandbox's timelines. And the
registry stopped: the partition waits, nothing is dead-lettered, it goes on when it is back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from tests.fixtures.kafka import read_topic

pytestmark = pytest.mark.integration

INPUTS = Path(__file__).parents[2] / "examples" / "inputs"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "inputs"

# One mapping for the three registry formats: the same fields whatever the wire.
PAYMENT_MAPPING = """
{"key": $topic & ":" & $string(payment_id) & ":" & status,
 "contact": {"email": email},
 "activity": {"name": "Payment " & status & " (" & $topic & ")",
              "actor": {"id": email, "name": email, "type": "contact"},
              "source": {"name": "payments", "id": $topic},
              "object": {"type": "payment", "id": $string(payment_id)},
              "context": {"Amount cents": amount_cents}}}
"""
ORDER_AVRO = {"type": "record", "name": "Payment", "namespace": "shop", "fields": [
    {"name": "payment_id", "type": "long"}, {"name": "email", "type": "string"},
    {"name": "amount_cents", "type": "int"}, {"name": "status", "type": "string"}]}
PAYMENT_JSON_SCHEMA = {"type": "object", "properties": {
    "payment_id": {"type": "integer"}, "email": {"type": "string"},
    "amount_cents": {"type": "integer"}, "status": {"type": "string"}},
    "required": ["payment_id", "email", "amount_cents", "status"]}
ID = 820982911946154508  # a snowflake id: every digit must reach the timeline


def _payment_class() -> type[Any]:
    """A Protobuf message type built at run time, as a producer's generated code would be."""
    file = descriptor_pb2.FileDescriptorProto(name="e2e/payment.proto", package="e2e",
                                              syntax="proto3")
    message = file.message_type.add(name="Payment")
    f = descriptor_pb2.FieldDescriptorProto
    for number, (name, kind) in enumerate([("payment_id", f.TYPE_INT64), ("email", f.TYPE_STRING),
                                           ("amount_cents", f.TYPE_INT32),
                                           ("status", f.TYPE_STRING)], start=1):
        message.field.add(name=name, number=number, type=kind, label=f.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("e2e.Payment"))


def _wait(what: str, done: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_avro_protobuf_and_json_schema_values_reach_the_timeline_with_every_digit(
        schema_registry, registry_client, kafka_broker, topic_factory, produce, sandbox,
        consumer_setup, run_consumer, tmp_path):
    topics = {fmt: topic_factory(prefix=f"payments.{fmt}") for fmt in ("avro", "protobuf", "json_schema")}
    payment = {"payment_id": ID, "email": "rachel@example.com", "amount_cents": 4999, "status": "failed"}
    protobuf = _payment_class()
    serializers = {
        "avro": lambda: AvroSerializer(registry_client, json.dumps(ORDER_AVRO)),
        "json_schema": lambda: JSONSerializer(json.dumps(PAYMENT_JSON_SCHEMA), registry_client),
        "protobuf": lambda: ProtobufSerializer(protobuf, registry_client,
                                               {"use.deprecated.format": False}),
    }
    for fmt, topic in topics.items():
        value = protobuf(**payment) if fmt == "protobuf" else payment
        wire = serializers[fmt]()(value, SerializationContext(topic, MessageField.VALUE))
        produce(topic, [(b"k", wire, None)])
    (tmp_path / "payment.jsonata").write_text(PAYMENT_MAPPING)
    setup = consumer_setup(sandbox, {t: {"format": fmt, "mapping": str(tmp_path / "payment.jsonata")}
                                     for fmt, t in topics.items()},
                           schema_registry={"url": schema_registry.url})
    running = run_consumer(setup)
    setup.wait_settled()
    running.stop()
    names = sorted(a["activity"]["name"] for a in sandbox.activities())
    assert names == sorted(f"Payment failed ({t})" for t in topics.values())
    assert {a["activity"]["object"]["id"] for a in sandbox.activities()} == {str(ID)}
    assert running.consumer.counts.dead_lettered == 0


def test_debezium_and_cloudevents_messages_become_activities(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    debezium = json.loads((INPUTS / "debezium-orders" / "event.json").read_text())
    cloud = json.loads((INPUTS / "cloudevents-payments" / "event.json").read_text())
    orders, payments = topic_factory(prefix="shop.public.orders"), topic_factory(prefix="payments")
    produce(orders, [(debezium["key"].encode(), orjson.dumps(debezium["value"]), None)])
    headers = [(k, v.encode()) for k, v in cloud["headers"].items()]
    produce(payments, [(None, orjson.dumps(cloud["value"]), headers)])
    tombstone = (debezium["key"].encode(), None, None)  # after a delete: filtered, not an error
    produce(orders, [tombstone])
    setup = consumer_setup(sandbox, {
        orders: {"envelope": "debezium", "mapping": str(INPUTS / "debezium-orders" / "mapping.jsonata")},
        payments: {"envelope": "cloudevents",
                   "mapping": str(INPUTS / "cloudevents-payments" / "mapping.jsonata")}})
    running = run_consumer(setup)
    setup.wait_settled()
    running.stop()
    names = sorted(a["activity"]["name"] for a in sandbox.activities())
    assert names == ["Order #1001 shipped", "Payment failed for order #1001"]
    counts = running.consumer.counts
    assert (counts.delivered, counts.dead_lettered, counts.filtered) == (2, 0, 1)


def test_a_stopped_registry_holds_the_partition_and_nothing_is_dead_lettered(
        schema_registry, registry_client, kafka_broker, topic_factory, produce, sandbox,
        consumer_setup, run_consumer, tmp_path):
    topic = topic_factory(prefix="payments.held")
    serialize = AvroSerializer(registry_client, json.dumps(
        {**ORDER_AVRO, "name": f"Held{topic.replace('.', '_').replace('-', '_')}"}))
    wires = [serialize({**{"payment_id": ID + n, "email": f"c{n}@example.com",
                           "amount_cents": 100 + n, "status": "failed"}},
                       SerializationContext(topic, MessageField.VALUE)) for n in range(5)]
    (tmp_path / "payment.jsonata").write_text(PAYMENT_MAPPING)
    setup = consumer_setup(sandbox, {topic: {"format": "avro", "mapping": str(tmp_path / "payment.jsonata")}},
                           schema_registry={"url": schema_registry.url, "timeout": 2})
    schema_registry.pause()  # the consumer has not fetched this schema: it must wait for it
    try:
        running = run_consumer(setup)
        produce(topic, [(b"k", w, None) for w in wires])
        _wait("the partition held for the registry",
              lambda: "schema_registry unavailable" in running.consumer.readiness.check()[1])
        assert running.consumer.readiness.check()[0] is False
        held = running.consumer.metrics.registry.get_sample_value(
            "activity_consumer_partitions_held", {"what": "schema_registry"})
        assert held == 1
    finally:
        schema_registry.resume()
    setup.wait_settled()
    running.stop()
    assert sorted(a["contact"]["email"] for a in sandbox.activities()) == [
        f"c{n}@example.com" for n in range(5)]
    assert running.consumer.counts.dead_lettered == 0
    assert read_topic(kafka_broker.bootstrap, f"{topic}.dlq", 0, timeout=2) == []
    assert running.consumer.readiness.check() == (True, "ok")
