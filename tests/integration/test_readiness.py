"""Readiness tells the truth about the world around the consumer, against real processes:
the broker's SASL listener refusing a wrong password, brokers unreachable and then back, the
shared budget's Redis stopped and started. Lag is unknown (NaN) while it cannot be read."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import orjson
import pytest

from consumer_devtools.local_kafka import SASL_USERS
from consumer_devtools.samples import order_event

pytestmark = pytest.mark.integration

USER, PASSWORD = next(iter(SASL_USERS.items()))


def _wait(what: str, done: Callable[[], bool], timeout: float = 60) -> float:
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < timeout, f"not within {timeout:.0f}s: {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def _sasl(password: str) -> dict[str, str]:
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
            "sasl.username": USER, "sasl.password": password}


def test_sasl_credentials_deliver_and_a_wrong_password_is_not_ready_within_a_minute(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer, capsys):
    topic = topic_factory(prefix="orders-sasl")
    produce(topic, [(b"k", orjson.dumps(order_event(1, email="rachel@example.com")), None, None)])
    good = consumer_setup(sandbox, {topic: "orders"},
                          kafka={"bootstrap.servers": kafka_broker.sasl_bootstrap, **_sasl(PASSWORD)})
    running = run_consumer(good)
    _wait("the activity over SASL", lambda: len(sandbox.activities()) == 1)
    assert running.consumer.readiness.check() == (True, "ok")
    running.stop()

    wrong = consumer_setup(sandbox, {topic: "orders"},
                           kafka={"bootstrap.servers": kafka_broker.sasl_bootstrap,
                                  **_sasl("not-the-password")})
    running = run_consumer(wrong)
    seen: list[tuple[bool, str]] = []

    def said_so() -> bool:
        seen.append(running.consumer.readiness.check())
        return "refuse our credentials" in seen[-1][1]
    took = _wait("not ready for the credentials", said_so)
    assert not any(ready for ready, _ in seen), "never Ready, not even before the error shows"
    metrics = running.consumer.metrics.registry
    assert metrics.get_sample_value("activity_consumer_kafka_unhealthy",
                                    {"cause": "authentication"}) == 1
    assert not running.consumer.readiness.check()[0]
    running.stop()
    with capsys.disabled():
        print(f"\nwrong SASL password: not ready after {took:.1f}s: "
              f"{running.consumer.readiness.check()[1][:120]}")


def test_brokers_unreachable_is_not_ready_with_lag_unknown_and_ready_again_when_back(
        kafka_broker, topic_factory, produce, sandbox, front_factory, consumer_setup,
        run_consumer):
    topic = topic_factory(prefix="orders-brokers")
    front = front_factory(("127.0.0.1", kafka_broker.port))
    front.set_mode("refuse")  # the only address the consumer is given refuses connections
    setup = consumer_setup(sandbox, {topic: "orders"},
                           kafka={"bootstrap.servers": f"127.0.0.1:{front.port}"})
    running = run_consumer(setup)
    _wait("not ready for the brokers",
          lambda: "cannot reach the Kafka brokers" in running.consumer.readiness.check()[1])
    front.set_mode("forward")
    produce(topic, [(b"k", orjson.dumps(order_event(7, email="monica@example.com")), None, None)])
    _wait("ready again", lambda: running.consumer.readiness.check() == (True, "ok"), timeout=90)
    setup.wait_settled()
    running.stop()
    assert len(sandbox.activities()) == 1


def test_lag_reads_nan_not_zero_while_the_consumer_cannot_fetch(
        kafka_broker, topic_factory, produce, sandbox, front_factory, consumer_setup,
        run_consumer):
    topic = topic_factory(prefix="orders-lag")
    front = front_factory(("127.0.0.1", kafka_broker.port))
    setup = consumer_setup(sandbox, {topic: "orders"},
                           kafka={"bootstrap.servers": f"127.0.0.1:{front.port}"})
    running = run_consumer(setup)
    registry = running.consumer.metrics.registry

    def lag() -> float | None:
        return registry.get_sample_value("activity_consumer_lag_messages",
                                         {"topic": topic, "partition": "0"})

    _wait("a lag gauge", lambda: lag() == 0)
    running.consumer.readiness.set("kafka", "forced by the test")  # the kafka cause's owner:
    running.consumer._kafka_health.shown = True  # as if 15 s without a sign
    _wait("lag unknown", lambda: (value := lag()) is not None and math.isnan(value), timeout=10)
    running.stop()


def test_the_shared_budget_store_away_past_its_grace_is_not_ready_and_back_when_it_is(
        kafka_broker, topic_factory, produce, sandbox_factory, redis_server, consumer_setup,
        run_consumer):
    # 120 calls a minute: 60 events take half a minute of paced calls, each asking the store
    sandbox = sandbox_factory(rate_limit=120, window_seconds=60)
    topic = topic_factory(prefix="orders-budget")
    setup = consumer_setup(sandbox, {topic: "orders"},
                           freshdesk={"budget": {"backend": "redis", "url": redis_server.url}})
    redis_server.stop()
    try:
        running = run_consumer(setup)
        produce(topic, [(f"k{n}".encode(), orjson.dumps(order_event(n, email=f"c{n}@example.com")),
                         None, None) for n in range(60)])
        _wait("not ready for the budget store",
              lambda: "shared budget store" in running.consumer.readiness.check()[1], timeout=90)
        assert running.consumer.counts.dead_lettered == 0, "pacing alone meanwhile"
    finally:
        redis_server.start()
    produce(topic, [(b"late", orjson.dumps(order_event(99, email="late@example.com")), None, None)])
    _wait("ready again", lambda: running.consumer.readiness.check() == (True, "ok"), timeout=90)
    setup.wait_settled()
    running.stop()


def test_a_ledger_that_does_not_answer_is_not_ready_and_nothing_is_posted_until_it_does(
        kafka_broker, topic_factory, produce, sandbox, redis_server, consumer_setup,
        run_consumer):
    topic = topic_factory(prefix="orders-ledger")
    setup = consumer_setup(sandbox, {topic: "orders"},
                           ledger={"backend": "redis", "url": redis_server.url, "timeout_s": 0.5})
    running = run_consumer(setup)
    redis_server.stop()
    try:
        produce(topic, [(b"k", orjson.dumps(order_event(3, email="joey@example.com")), None, None)])
        _wait("not ready for the ledger",
              lambda: "idempotency ledger" in running.consumer.readiness.check()[1])
        assert sandbox.activities() == [], "never posted without the ledger's answer"
    finally:
        redis_server.start()
    _wait("ready again", lambda: running.consumer.readiness.check() == (True, "ok"), timeout=90)
    setup.wait_settled()
    running.stop()
    assert len(sandbox.activities()) == 1
