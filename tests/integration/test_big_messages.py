"""Messages far larger than a dead-letter topic takes, against the real broker: dead-lettered as
a truncated copy that can still be found and redriven; and a dead-letter topic that refuses every
record holds its partition (retried with backoff, readiness and a counter say so) until it
takes them, without crashing or committing past it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from consumer_devtools.samples import order_event
from tests.fixtures.kafka import read_topic

pytestmark = pytest.mark.integration

BIG = 2 * 1024 * 1024 + 17  # over librdkafka's 1,000,000 and Kafka's default topic limit


def _produce_big(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "message.max.bytes": 8 * 1024 * 1024})
    for key, value in records:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(60) == 0


def _wait(what: str, done: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_message_over_the_dead_letter_topics_limit_is_dead_lettered_truncated_and_findable(
        kafka_broker, topic_factory, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(prefix="orders", config={"max.message.bytes": str(8 * 1024 * 1024)})
    garbage = b"{" + b"x" * (BIG - 1)  # 2 MB that is not JSON: it cannot be delivered
    good = [orjson.dumps(order_event(n, email=f"c{n}@example.com")) for n in (1, 2)]
    _produce_big(kafka_broker.bootstrap, topic, [(b"a", good[0]), (b"big", garbage), (b"b", good[1])])
    setup = consumer_setup(sandbox, {topic: "orders"})
    running = run_consumer(setup)
    setup.wait_settled()
    running.stop()
    assert len(sandbox.activities()) == 2, "the rest flowed"
    [dead] = read_topic(kafka_broker.bootstrap, f"{topic}.dlq", 1)
    headers = {k: (v or b"").decode() for k, v in dead.headers()}
    assert headers["dlq.truncated"] == "true" and headers["dlq.reason"] == "decode"
    assert headers["dlq.original.size"].isdigit() and int(headers["dlq.original.size"]) >= BIG
    assert headers["dlq.original.sha256"] == hashlib.sha256(garbage).hexdigest()
    assert (headers["dlq.original.topic"], headers["dlq.original.offset"]) == (topic, "1")
    assert len(dead.value()) < 1_000_000 and garbage.startswith(dead.value())


def test_a_dead_letter_the_broker_refuses_holds_its_partition_until_it_is_taken(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(prefix="orders")
    dlq = f"{topic}.dlq"
    kafka_broker.create_topic(dlq, 1, {"max.message.bytes": "200"})  # not even the headers fit
    produce(topic, [(b"bad", b"{not json", None, None),
                    (b"ok", orjson.dumps(order_event(1, email="rachel@example.com")), None, None)])
    setup = consumer_setup(sandbox, {topic: "orders"})
    running = run_consumer(setup)
    consumer = running.consumer

    def failures() -> float:
        return consumer.metrics.registry.get_sample_value(
            "activity_consumer_dead_letter_write_failures_total", {"topic": topic}) or 0.0

    _wait("two refused writes of the dead letter", lambda: failures() >= 2)
    ready, why = consumer.readiness.check()
    assert not ready and "dead letter(s) not written" in why, why
    committed, _end = setup.committed_and_end()
    assert committed == 0, "nothing committed past the dead letter that was not written"
    assert running.error is None, "no crash"
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, dlq, incremental_configs=[ConfigEntry(
        "max.message.bytes", "1048588", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([resource])[resource].result(30)
    setup.wait_settled()
    running.stop()
    [dead] = read_topic(kafka_broker.bootstrap, dlq, 1)
    assert dict(dead.headers())["dlq.reason"] == b"decode"
    assert consumer.readiness.check() == (True, "ok")
    assert len(sandbox.activities()) == 1
