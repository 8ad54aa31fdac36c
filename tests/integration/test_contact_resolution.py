"""Events that name only a vendor id reach their customer's timeline, on the real broker.

A Stripe charge carries ``customer: "cus_…"``, a Shopify refund only ``order_id``: the contact
directory learns who those are from the streams (customer events, the order), an event nobody has
named yet waits in the group's waiting topic, and one that waits longer than ``contacts.wait_s``
is dead-lettered as ``contact_unresolved``.
"""

from __future__ import annotations

import copy
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fixtures.kafka import read_topic

pytestmark = pytest.mark.integration

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
CUSTOMER = "cus_J7Mkgr8mvbl1eK"  # the customer of the charge.refunded fixture
EMAIL = "rachel@example.com"


def _stripe(name: str) -> dict[str, Any]:
    return orjson.loads((VENDORS / "stripe" / name).read_bytes())


def charge_refunded() -> bytes:
    """Stripe's charge.refunded sample: it names its customer only as cus_J7Mkgr8mvbl1eK."""
    return orjson.dumps(_stripe("evt_charge.refunded_2020-03-02.json"))


def customer_updated() -> bytes:
    """lago-api's customer.updated sample, for the charge's customer and our email."""
    event = copy.deepcopy(_stripe("evt_customer.updated_2020-08-27.json"))
    event["id"] = f"evt_{uuid.uuid4().hex[:12]}"
    event["data"]["object"]["id"] = CUSTOMER
    event["data"]["object"]["email"] = EMAIL
    return orjson.dumps(event)


def _sample(running: Any, name: str, labels: dict[str, str] | None = None) -> float:
    return running.consumer.metrics.registry.get_sample_value(name, labels or {}) or 0.0


def _wait_for(what: str, check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def sandbox(sandbox_factory: Any) -> Any:
    return sandbox_factory(rate_limit=1_000_000)


def test_a_charge_naming_only_its_customer_waits_then_lands_on_the_customers_timeline(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(prefix="stripe")
    produce(topic, [(None, charge_refunded(), None, 0)])
    setup = consumer_setup(sandbox, {topic: "stripe"})
    running = run_consumer(setup)
    _wait_for("the charge to be parked", lambda: _sample(
        running, "activity_consumer_events_parked_total", {"topic": topic}) == 1)
    setup.wait_settled()  # the source partition committed past the parked charge
    _wait_for("the parked charge to wait in the room",
              lambda: _sample(running, "activity_consumer_events_waiting") == 1)
    assert sandbox.activities() == []

    produce(topic, [(None, customer_updated(), None, 0)])  # the customer, later
    _wait_for("the charge on the timeline", lambda: len(sandbox.activities()) == 1)
    running.stop()
    (activity,) = sandbox.activities()
    assert activity["contact"] == {"email": EMAIL}
    assert "refund" in activity["activity"]["name"].lower()
    assert setup.committed_and_end() == (2, 2)


def test_a_shopify_refund_lands_on_the_timeline_of_its_orders_customer(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(prefix="shopify")
    shop = [("X-Shopify-Shop-Domain", b"jsmith.myshopify.com")]
    produce(topic, [
        (b"shop", (VENDORS / "shopify" / "order_legacy_python-api.json").read_bytes(),
         [("X-Shopify-Topic", b"orders/create"), *shop], 0),
        (b"shop", (VENDORS / "shopify" / "refund_legacy_python-api.json").read_bytes(),
         [("X-Shopify-Topic", b"refunds/create"), *shop], 0)])
    setup = consumer_setup(sandbox, {topic: "shopify"})
    running = run_consumer(setup)
    setup.wait_settled()
    running.stop()
    stored = sandbox.activities()
    assert len(stored) == 2
    assert {a["contact"]["email"] for a in stored} == {"bob.norman@hostmail.com"}
    assert _sample(running, "activity_consumer_events_parked_total", {"topic": topic}) == 0


def test_an_event_nobody_names_is_dead_lettered_as_contact_unresolved_after_the_wait(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(prefix="stripe")
    produce(topic, [(None, charge_refunded(), None, 0)])
    setup = consumer_setup(sandbox, {topic: "stripe"}, contacts={"wait_s": 1})
    running = run_consumer(setup)
    (dead,) = read_topic(kafka_broker.bootstrap, f"{topic}.dlq", expect=1, timeout=60)
    running.stop()
    headers = {k: (v or b"").decode() for k, v in dead.headers()}
    assert headers["dlq.reason"] == "contact_unresolved"
    assert headers["dlq.original.topic"] == topic and headers["dlq.original.offset"] == "0"
    assert f"stripe:{CUSTOMER}" in headers["dlq.error"]
    assert dead.value() == charge_refunded(), "the original event, ready for a redrive"
    assert sandbox.activities() == []
    assert _sample(running, "activity_consumer_halted", {"reason": "dead_letter_breaker"}) == 0


def test_a_restart_while_an_event_waits_loses_nothing_and_doubles_nothing(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(prefix="stripe")
    produce(topic, [(None, charge_refunded(), None, 0)])
    setup = consumer_setup(sandbox, {topic: "stripe"})
    first = run_consumer(setup)
    _wait_for("the charge to wait", lambda: _sample(first, "activity_consumer_events_waiting") == 1)
    assert first.stop() == 0

    produce(topic, [(None, customer_updated(), None, 0)])
    second = run_consumer(setup)  # same group: it re-reads the waiting topic from its commit
    _wait_for("the charge on the timeline", lambda: len(sandbox.activities()) == 1)
    setup.wait_settled()
    assert second.stop() == 0  # its shutdown commits the waiting topic too
    assert len(sandbox.activities()) == 1
    assert _sample(second, "activity_consumer_events_parked_total", {"topic": topic}) == 0, (
        "the second consumer found it in the waiting topic; the source was already committed")


def test_replicas_share_what_they_learn_through_the_redis_directory(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer, redis_url):
    customers, charges = topic_factory(prefix="customers"), topic_factory(prefix="charges")
    produce(customers, [(None, customer_updated(), None, 0)])
    produce(charges, [(None, charge_refunded(), None, 0)])
    contacts = {"backend": "redis", "url": redis_url, "prefix": f"c-{uuid.uuid4().hex[:6]}:"}
    learner = consumer_setup(sandbox, {customers: "stripe"}, contacts=contacts)
    running = run_consumer(learner)
    learner.wait_settled()
    running.stop()

    poster = consumer_setup(sandbox, {charges: "stripe"}, contacts=contacts)  # another group
    running = run_consumer(poster)
    poster.wait_settled()
    _wait_for("the charge on the timeline", lambda: len(sandbox.activities()) == 1)
    running.stop()
    assert sandbox.activities()[0]["contact"] == {"email": EMAIL}
    assert _sample(running, "activity_consumer_events_parked_total", {"topic": charges}) == 0
