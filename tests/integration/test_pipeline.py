"""The whole pipeline on a real Kafka broker and the sandbox over HTTP."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections import Counter
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer

from consumer_devtools.samples import order_event, payment_event
from tests.fixtures.kafka import read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox(sandbox_factory):
    """A sandbox whose budget never runs out, unless a test spends it on purpose: with
    Freshdesk's 700 calls/min a 1,000-event test would spend a minute waiting for the window."""
    return sandbox_factory(rate_limit=1_000_000)


def _records(events: list[dict[str, Any]], key_of: str = "customer") -> list[tuple]:
    return [(e[key_of]["id"].encode(), orjson.dumps(e), None, None) for e in events]


def _order_events(n: int, customers: int = 50, tag: str = "") -> list[dict[str, Any]]:
    tag = tag or uuid.uuid4().hex[:6]
    return [order_event(i, email=f"c{i % customers}-{tag}@example.com",
                        customer=f"c{i % customers}-{tag}") for i in range(n)]


def test_thousand_events_over_three_partitions_land_once_and_commit_to_the_end(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(partitions=3, prefix="orders")
    events = _order_events(1000)
    produce(topic, _records(events))
    setup = consumer_setup(sandbox, {topic: "orders"})

    running = run_consumer(setup)
    waited = setup.wait_settled(timeout=120)
    assert running.stop() == 0

    stored = sandbox.activities()
    assert len(stored) == 1000, f"{len(stored)} activities stored after {waited:.1f}s"
    by_order = {}
    for record in stored:
        order_id = record["activity"]["object"]["id"]
        assert order_id not in by_order, f"order {order_id} posted twice"
        by_order[order_id] = record
    for e in events:
        record = by_order[str(e["order"]["id"])]
        assert record["contact"] == {"email": e["customer"]["email"]}
        assert str(e["order"]["number"]) in record["activity"]["name"]
        assert record["activity"]["actor"]["id"] == e["customer"]["id"]
    committed, end = setup.committed_and_end()
    assert committed == end == 1000
    assert running.consumer.counts.delivered == 1000


def test_restart_does_not_repost_delivered_activities(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(partitions=3, prefix="orders")
    events = _order_events(200)
    produce(topic, _records(events))
    setup = consumer_setup(sandbox, {topic: "orders"})
    first = run_consumer(setup)
    setup.wait_settled()
    first.stop()
    assert len(sandbox.activities()) == 200

    # The restarted consumer must be really consuming, so give it one new event to prove it.
    produce(topic, _records([order_event(10_000, email="late@example.com", customer="late")]))
    second = run_consumer(setup)
    setup.wait_settled()
    second.stop()
    stored = sandbox.activities()
    assert len(stored) == 201
    assert Counter(r["activity"]["object"]["id"] for r in stored).most_common(1)[0][1] == 1
    assert second.consumer.counts.delivered == 1


def test_bad_messages_are_dead_lettered_with_reasons_and_the_rest_flows(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(partitions=1, prefix="orders")
    good = _order_events(4, customers=4)
    no_contact = order_event(100)
    no_contact["customer"] = {"id": "anon", "name": "Nobody"}
    bad_email = order_event(101, email="rachel(at)example.com", customer="rachel")
    values = [orjson.dumps(good[0]), b'{"type": "order.created", "event_id": ',
              orjson.dumps(good[1]), orjson.dumps(no_contact), orjson.dumps(good[2]),
              orjson.dumps(bad_email), orjson.dumps(good[3])]
    produce(topic, [(f"k{i}".encode(), v, [("trace-id", f"t{i}".encode())], 0)
                    for i, v in enumerate(values)])
    setup = consumer_setup(sandbox, {topic: "orders"})
    running = run_consumer(setup)
    setup.wait_settled()
    running.stop()

    delivered = {r["activity"]["object"]["id"] for r in sandbox.activities()}
    assert delivered == {str(e["order"]["id"]) for e in good}

    dead = read_topic(kafka_broker.bootstrap, f"{topic}.dlq", expect=3)
    assert len(dead) == 3
    by_offset = {}
    for m in dead:
        headers = {k: (v or b"").decode() for k, v in m.headers()}
        assert headers["dlq.original.topic"] == topic
        assert headers["dlq.original.partition"] == "0"
        offset = int(headers["dlq.original.offset"])
        assert m.key() == f"k{offset}".encode() and m.value() == values[offset]
        assert headers["trace-id"] == f"t{offset}", "original headers are kept"
        by_offset[offset] = headers
    assert sorted(by_offset) == [1, 3, 5]
    assert by_offset[1]["dlq.reason"] == "decode"
    assert by_offset[3]["dlq.reason"] == "transform"
    assert "email" in by_offset[3]["dlq.error"]
    assert by_offset[5]["dlq.reason"] == "rejected"
    assert by_offset[5]["dlq.status"] == "400"
    response = orjson.loads(by_offset[5]["dlq.response"])
    assert response["errors"][0]["code"] == "invalid_value"
    assert setup.committed_and_end() == (7, 7)


@pytest.mark.parametrize("refusal", ["wrong key (401)", "forbidden key (403)"])
def test_refused_credentials_deliver_and_commit_nothing_until_fixed(
        refusal, kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(partitions=2, prefix="orders")
    events = _order_events(30, customers=7)
    produce(topic, _records(events))
    if refusal.startswith("forbidden"):
        sandbox.set_api_keys(["sandbox-key", "readonly-key"], forbidden=["readonly-key"])
        bad = consumer_setup(sandbox, {topic: "orders"}, api_key="readonly-key")
        status = 403
    else:
        bad = consumer_setup(sandbox, {topic: "orders"}, api_key="not-the-key")
        status = 401
    running = run_consumer(bad)
    deadline = time.monotonic() + 20
    while sum(r["status"] == status for r in sandbox.requests()) < 3:  # the probe kept trying
        assert time.monotonic() < deadline, "the halted consumer did not probe"
        time.sleep(0.2)
    registry = running.consumer.metrics.registry
    while sum(registry.get_sample_value("activity_consumer_lag_messages",
                                        {"topic": topic, "partition": p}) or 0
              for p in ("0", "1")) != 30:  # the alerts need the halted backlog as lag
        assert time.monotonic() < deadline + 10, "a halted consumer must show its lag"
        time.sleep(0.2)
    assert registry.get_sample_value("activity_consumer_halted", {"reason": (
        "forbidden" if status == 403 else "unauthorized")}) == 1
    assert running.stop() == 0
    assert sandbox.activities() == []
    assert bad.committed_and_end() == (0, 30)

    good = consumer_setup(sandbox, {topic: "orders"})
    good.group = bad.group
    good.path.write_text(bad.path.read_text())
    running = run_consumer(good)
    good.wait_settled()
    running.stop()
    stored = sandbox.activities()
    assert sorted(r["activity"]["object"]["id"] for r in stored) == sorted(
        str(e["order"]["id"]) for e in events)


def test_halted_consumer_resumes_when_the_probe_succeeds(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(partitions=1, prefix="payments")
    events = [payment_event(i, email=f"p{i}@example.com", customer=f"p{i}") for i in range(10)]
    produce(topic, _records(events))
    sandbox.set_api_keys(["other-key"])
    setup = consumer_setup(sandbox, {topic: "payments"})
    running = run_consumer(setup)
    deadline = time.monotonic() + 20
    while sum(r["status"] == 401 for r in sandbox.requests()) < 3:  # halted, and probing
        assert time.monotonic() < deadline, "the halted consumer did not probe"
        time.sleep(0.1)
    assert sandbox.activities() == [] and setup.committed_and_end() == (0, 10)
    sandbox.set_api_keys(["other-key", "sandbox-key"])  # the operator fixes the account
    setup.wait_settled(timeout=30)
    running.stop()
    assert len(sandbox.activities()) == 10


def test_retry_after_delays_delivery_then_everything_arrives(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(partitions=1, prefix="orders")
    events = _order_events(10, customers=10)
    produce(topic, _records(events))
    sandbox.set_faults(script=[{"status": 429, "retry_after": 2}])
    # One request at a time, so "after the 429" is exact: every later request was sent after it.
    setup = consumer_setup(sandbox, {topic: "orders"}, freshdesk={"max_in_flight": 1})
    running = run_consumer(setup)
    setup.wait_settled(timeout=60)
    running.stop()

    log = sandbox.requests()
    assert [r["status"] for r in log] == [429] + [200] * 10
    assert log[1]["at"] - log[0]["at"] >= 2.0, "called again before Retry-After had passed"
    assert len(sandbox.activities()) == 10


def test_a_small_account_budget_is_paced_over_its_windows_and_loses_nothing(
        kafka_broker, topic_factory, produce, sandbox_factory, consumer_setup, run_consumer):
    sandbox = sandbox_factory(rate_limit=20, window_seconds=2)
    topic = topic_factory(partitions=3, prefix="orders")
    events = _order_events(50, customers=25)
    produce(topic, _records(events))
    setup = consumer_setup(sandbox, {topic: "orders"}, freshdesk={"budget": {"window_s": 2}})
    running = run_consumer(setup)
    setup.wait_settled(timeout=90)
    running.stop()

    log = sandbox.requests()
    accepted = [r["at"] for r in log if r["status"] == 200]
    throttled = [r for r in log if r["status"] == 429]
    assert len(accepted) == 50 and len(sandbox.activities()) == 50
    # 20 per 2 s less the 10% reserve: 18 per window, so 50 calls span at least two windows;
    # paced, not burst into the limit, so (almost) nothing is answered 429.
    assert accepted[-1] - accepted[0] >= 2 * 2.0 * 0.9, "faster than 18 per 2 s window"
    assert len(throttled) <= 2, f"{len(throttled)} calls answered 429: paced calls should not be"


def test_transient_failures_are_retried_until_delivered(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(partitions=1, prefix="orders")
    events = _order_events(5, customers=5)
    produce(topic, _records(events))
    sandbox.set_faults(script=[{"status": 503}, {"drop": True}, {"status": 500}])
    setup = consumer_setup(sandbox, {topic: "orders"})
    running = run_consumer(setup)
    setup.wait_settled(timeout=60)
    running.stop()
    assert len(sandbox.activities()) == 5
    assert running.consumer.counts.dead_lettered == 0


def test_sigterm_drains_exits_zero_and_a_restart_completes_the_rest(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, consumer_process):
    topic = topic_factory(partitions=3, prefix="orders")
    events = _order_events(300, customers=40)
    produce(topic, _records(events))
    sandbox.set_faults(slow_rate=1.0, slow_seconds=0.3)
    setup = consumer_setup(sandbox, {topic: "orders"}, processing={"drain_timeout_s": 10})
    proc = consumer_process(setup)
    deadline = time.monotonic() + 60
    while len(sandbox.activities()) < 30:
        assert time.monotonic() < deadline, proc.log()[-3000:]
        time.sleep(0.1)
    sent = time.monotonic()
    proc.terminate()
    code = proc.wait(timeout=20)
    took = time.monotonic() - sent
    assert code == 0, proc.log()[-3000:]
    assert took < 10 + 2, f"exit took {took:.1f}s, past the 10s drain deadline"
    delivered_before = len(sandbox.activities())
    assert delivered_before < 300, "SIGTERM came too late to prove anything"
    committed, _ = setup.committed_and_end()
    assert committed == delivered_before, "the drain committed exactly what it delivered"

    sandbox.set_faults(slow_rate=0.0)
    again = consumer_process(setup)
    setup.wait_settled(timeout=90)
    again.terminate()
    assert again.wait(timeout=20) == 0
    ids = Counter(r["activity"]["object"]["id"] for r in sandbox.activities())
    assert sorted(ids) == sorted(str(e["order"]["id"]) for e in events), "nothing lost"
    assert max(ids.values()) == 1, "nothing doubled"


def test_a_close_that_never_returns_is_left_behind_after_close_timeout(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer,
        monkeypatch, caplog):
    """librdkafka's close has no timeout; shutdown must not inherit that (processing.close_timeout_s)."""
    release = threading.Event()
    closed_on: list[str] = []

    class CloseNeverReturns(Consumer):  # a coordinator that never answers, as far as we can tell
        def close(self) -> None:
            closed_on.append(threading.current_thread().name)
            release.wait(60)
            super().close()

    monkeypatch.setattr("consumer.app.Consumer", CloseNeverReturns)
    topic = topic_factory(partitions=2, prefix="orders")
    events = _order_events(20, customers=5)
    produce(topic, _records(events))
    setup = consumer_setup(sandbox, {topic: "orders"},
                           processing={"drain_timeout_s": 2, "close_timeout_s": 1})
    running = run_consumer(setup)
    setup.wait_settled(timeout=60)
    caplog.set_level(logging.INFO, logger="consumer.loop")
    sent = time.monotonic()
    try:
        assert running.stop(timeout=15) == 0
        took = time.monotonic() - sent
        assert running.consumer.close_abandoned and closed_on == ["kafka-close"]
        assert 1.0 <= took < 2 + 1 + 3, f"stop took {took:.1f}s: drain 2 s + close 1 s allowed"
        assert "did not leave the group within 1s" in caplog.text
        committed, end = setup.committed_and_end()
        assert committed == end == 20, "everything was committed before the close"
        assert len(sandbox.activities()) == 20
    finally:
        release.set()  # the real close now runs on its thread; its late callbacks do nothing


def test_an_error_from_close_still_reaches_the_caller(
        kafka_broker, topic_factory, sandbox, consumer_setup, run_consumer, monkeypatch):
    class CloseFails(Consumer):
        def close(self) -> None:
            super().close()
            raise RuntimeError("close failed on purpose")

    monkeypatch.setattr("consumer.app.Consumer", CloseFails)
    topic = topic_factory(partitions=1, prefix="orders")
    running = run_consumer(consumer_setup(sandbox, {topic: "orders"}))
    registry = running.consumer.metrics.registry
    deadline = time.monotonic() + 30
    while (registry.get_sample_value("activity_consumer_assigned_partitions") or 0) < 2:
        assert time.monotonic() < deadline, "the consumer never got its partitions"
        time.sleep(0.05)
    with pytest.raises(RuntimeError, match="close failed on purpose"):
        running.stop(timeout=15)
    assert not running.consumer.close_abandoned

def test_sigusr1_prints_every_threads_stack_and_the_consumer_carries_on(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, consumer_process):
    topic = topic_factory(partitions=1, prefix="orders")
    produce(topic, _records(_order_events(5, customers=2)))
    setup = consumer_setup(sandbox, {topic: "orders"})
    proc = consumer_process(setup)
    setup.wait_settled(timeout=60)
    proc.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while "Current thread" not in proc.log():
        assert time.monotonic() < deadline, proc.log()[-3000:]
        time.sleep(0.1)
    log = proc.log()
    assert 'in run' in log and "consumer/loop.py" in log, log[-3000:]  # the poll thread
    assert "consumer/delivery/bridge.py" in log, log[-3000:]  # the delivery loop's thread
    assert proc.proc.poll() is None, "a stack dump must not stop the consumer"
    proc.terminate()
    assert proc.wait(timeout=30) == 0

