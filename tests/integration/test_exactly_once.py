"""Exactly once on the timeline, piece by piece: the ledger's outage, the breaker, a redrive."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import orjson
import pytest

from consumer_devtools.samples import order_event
from tests.fixtures.kafka import read_topic

pytestmark = pytest.mark.integration


def _events(n: int, tag: str, start: int = 0) -> list[tuple]:
    out = []
    for i in range(start, start + n):
        e = order_event(i, customer=f"x{i % 15}-{tag}")
        out.append((e["customer"]["id"].encode(), orjson.dumps(e), None, None))
    return out


def test_a_redis_outage_pauses_delivery_and_loses_or_doubles_nothing(
        kafka_broker, topic_factory, produce, sandbox_factory, consumer_setup, run_consumer,
        redis_server, redis_url):
    sandbox = sandbox_factory(rate_limit=1_000_000)
    topic = topic_factory(partitions=2, prefix="orders")
    tag = uuid.uuid4().hex[:6]
    produce(topic, _events(30, tag))
    setup = consumer_setup(sandbox, {topic: "orders"},
                           ledger={"backend": "redis", "url": redis_url, "timeout_s": 0.5})
    running = run_consumer(setup)
    setup.wait_settled(timeout=60)
    assert len(sandbox.activities()) == 30

    redis_server.stop()
    produce(topic, _events(30, tag, start=100))
    registry = running.consumer.metrics.registry
    deadline = time.monotonic() + 30
    while (registry.get_sample_value("activity_consumer_messages_consumed_total",
                                     {"topic": topic}) or 0) < 60:  # taken, so they tried
        assert time.monotonic() < deadline, "the new events were not consumed"
        time.sleep(0.1)
    assert len(sandbox.activities()) == 30, "nothing may be posted while the ledger is away"
    committed, end = setup.committed_and_end()
    assert (committed, end) == (30, 60), "nothing committed past the outage"

    redis_server.start()
    setup.wait_settled(timeout=60)
    running.stop()
    ids = [a["activity"]["object"]["id"] for a in sandbox.activities()]
    assert len(ids) == len(set(ids)) == 60


def test_the_breaker_stops_a_bad_deploy_instead_of_draining_the_topic(
        kafka_broker, topic_factory, produce, sandbox_factory, consumer_setup, run_consumer):
    sandbox = sandbox_factory(rate_limit=1_000_000)
    topic = topic_factory(partitions=1, prefix="orders")
    produce(topic, [(b"k", b"{broken json " + str(i).encode(), None, 0) for i in range(100)])
    setup = consumer_setup(sandbox, {topic: "orders"},
                           # The ratio rule waits for 50 messages: this is the consecutive rule.
                           dead_letter={"breaker": {"max_consecutive": 10, "min_messages": 50,
                                                    "window": 50}})
    running = run_consumer(setup)
    deadline = time.monotonic() + 30
    while running.consumer.readiness.check()[0] or "breaker" not in running.consumer.readiness.check()[1]:
        assert time.monotonic() < deadline, running.consumer.readiness.check()
        time.sleep(0.1)
    while setup.committed_and_end()[0] < 10:  # the dead letters before the trip are committed
        assert time.monotonic() < deadline, setup.committed_and_end()
        time.sleep(0.1)
    halted = running.consumer.metrics.registry.get_sample_value(
        "activity_consumer_halted", {"reason": "dead_letter_breaker"})
    committed, end = setup.committed_and_end()
    running.stop()
    dead = read_topic(kafka_broker.bootstrap, f"{topic}.dlq", expect=100, timeout=5)
    assert len(dead) == 10, "max_consecutive dead letters; the 11th tripped it and is held back"
    assert committed == 10 and end == 100
    assert halted == 1


def test_redrive_after_a_fix_delivers_the_dead_letters_once_and_skips_what_was_delivered(
        kafka_broker, topic_factory, produce, sandbox_factory, consumer_setup, run_consumer):
    sandbox = sandbox_factory(rate_limit=1_000_000)
    topic = topic_factory(partitions=1, prefix="orders")
    tag = uuid.uuid4().hex[:6]
    produce(topic, _events(8, tag))
    # A bad moment at Freshdesk: three activities are refused with 400 and dead-lettered.
    sandbox.set_faults(script=[{"status": 400}] * 3)
    setup = consumer_setup(sandbox, {topic: "orders"})
    running = run_consumer(setup)
    setup.wait_settled(timeout=60)
    assert len(sandbox.activities()) == 5
    assert running.consumer.counts.dead_lettered == 3
    # A stray duplicate of a delivered event in the dead-letter topic (e.g. a dead letter
    # written twice): the redrive must not put it on the timeline again.
    delivered_event = _events(8, tag)[-1]
    produce(f"{topic}.dlq", [(delivered_event[0], delivered_event[1],
                              [("dlq.reason", b"rejected"), ("dlq.original.topic", topic.encode()),
                               ("dlq.original.partition", b"0")], 0)])

    dry = subprocess.run([sys.executable, "-m", "consumer", "redrive", "--from", f"{topic}.dlq",
                          "--bootstrap", kafka_broker.bootstrap, "--dry-run"],
                         capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert len(sandbox.activities()) == 5, "a dry run changes nothing"
    redrive = subprocess.run([sys.executable, "-m", "consumer", "redrive", "--from",
                              f"{topic}.dlq", "--bootstrap", kafka_broker.bootstrap,
                              "--reason", "rejected"], capture_output=True, text=True, timeout=120)
    assert redrive.returncode == 0, redrive.stderr + redrive.stdout
    setup.wait_settled(timeout=60)
    running.stop()
    ids = [a["activity"]["object"]["id"] for a in sandbox.activities()]
    assert len(ids) == len(set(ids)) == 8, "every event once: the redriven duplicate was skipped"
    skipped = running.consumer.metrics.registry.get_sample_value(
        "activity_consumer_activities_skipped_duplicate_total",
        {"topic": topic, "transform": "orders"})
    assert skipped == 1
