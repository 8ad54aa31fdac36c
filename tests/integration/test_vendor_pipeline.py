"""Real Shopify and Stripe payloads through the whole pipeline: Kafka, the transforms, the sandbox.

Each vendor's fixtures (tests/fixtures/vendors) are produced as their webhooks arrive (Shopify's
topic in the X-Shopify-Topic header), consumed by the built-in transforms (and a configured one),
and the sandbox's timelines and the dead-letter topic must show exactly what docs/vendors.md says.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from consumer.try_command import add_parser
from transforms import stripe

pytestmark = pytest.mark.integration

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
# Found by import path from the subscription file, like any configured vendor transform.
STRIPE_BY_CUSTOMER_ID = stripe.configure(external_id="stripe:{customer_id}")


@pytest.fixture
def sandbox(sandbox_factory: Any) -> Any:
    return sandbox_factory(rate_limit=1_000_000)


def _body(vendor: str, name: str) -> bytes:
    return (VENDORS / vendor / name).read_bytes()


SHOPIFY_DELIVERIES = [  # (fixture, X-Shopify-Topic, what the timeline gets)
    ("order_legacy_python-api.json", "orders/create", ["Order #1001 placed"]),
    ("order_legacy_python-api.json", "orders/paid", ["Order #1001 paid"]),
    ("order_2019-04_test-notification.json", "orders/cancelled", ["Order #9999 cancelled"]),
    ("order_2023_cancelled-refunded_activepieces.json", "orders/updated",
     ["Order #1009 cancelled", "Order #1009 refunded"]),
    ("order_legacy_python-api.json", "orders/fulfilled", ["Order #1001 fulfilled"]),
    ("order_legacy_python-api.json", "orders/updated", []),  # filtered: nothing dated to it
    # names no customer at all: it waits for the directory (parked), nothing is dead-lettered
    ("order_2023_paid-draft-no-customer_activepieces.json", "orders/paid", []),
    # names only its order: the directory learned order 450789469's customer above
    ("refund_legacy_python-api.json", "refunds/create", ["Order refunded"]),
    ("checkout_legacy_python-api.json", "checkouts/create", ["Checkout started"]),
    ("order_2019-04_test-notification.json", "products/create", []),  # filtered: not ours
]


def test_shopify_deliveries_land_on_the_right_timelines_and_the_rest_is_explained(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic = topic_factory(partitions=1, prefix="shopify")
    produce(topic, [(b"shop", _body("shopify", name),
                     [("X-Shopify-Topic", shopify_topic.encode()),
                      ("X-Shopify-Shop-Domain", b"jsmith.myshopify.com")], 0)
                    for name, shopify_topic, _ in SHOPIFY_DELIVERIES])
    setup = consumer_setup(sandbox, {topic: "shopify"})
    running = run_consumer(setup)
    setup.wait_settled()
    running.stop()

    stored = sandbox.activities()
    expected = [n for _, _, names in SHOPIFY_DELIVERIES for n in names]
    assert Counter(r["activity"]["name"] for r in stored) == Counter(expected)
    by_name = {r["activity"]["name"]: r for r in stored}
    assert by_name["Order #1001 placed"]["contact"] == {"email": "bob.norman@hostmail.com"}
    assert by_name["Order #1001 placed"]["activity"]["object"]["link"] == (
        "https://jsmith.myshopify.com/admin/orders/450789469")
    assert by_name["Order #9999 cancelled"]["contact"] == {"email": "jon@doe.ca"}
    assert by_name["Order #9999 cancelled"]["activity"]["object"]["id"] == "820982911946154508"
    assert by_name["Order #1009 refunded"]["contact"] == {"email": "russel.winfield@example.com"}
    assert by_name["Order refunded"]["contact"] == {"email": "bob.norman@hostmail.com"}
    registry = running.consumer.metrics.registry
    assert registry.get_sample_value("activity_consumer_events_parked_total",
                                     {"topic": topic}) == 1, "the draft order waits"
    assert sum(s.value for m in registry.collect() if m.name == "activity_consumer_dead_letters"
               for s in m.samples if s.name.endswith("_total")) == 0
    assert setup.committed_and_end() == (10, 10)


STRIPE_EVENTS = sorted(p.name for p in (VENDORS / "stripe").glob("*.json"))


def _run_stripe(topic_factory: Any, produce: Any, sandbox: Any, consumer_setup: Any,
                run_consumer: Any, transform: str) -> tuple[str, list[dict[str, Any]], Any]:
    topic = topic_factory(prefix="stripe")
    produce(topic, [(None, _body("stripe", name), None, 0) for name in STRIPE_EVENTS])
    setup = consumer_setup(sandbox, {topic: transform})
    running = run_consumer(setup)
    setup.wait_settled()
    running.stop()
    assert setup.committed_and_end() == (len(STRIPE_EVENTS), len(STRIPE_EVENTS))
    return topic, sandbox.activities(), running.consumer.metrics.registry


def test_stripe_events_with_an_email_land_and_those_naming_only_ids_wait_for_the_directory(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic, stored, registry = _run_stripe(topic_factory, produce, sandbox, consumer_setup,
                                          run_consumer, "stripe")
    # by email: the checkout, and the pre-2022 payment intent through its embedded charge; the
    # samples come from unrelated accounts, so no customer event here names the others' cus_…
    assert sorted((r["activity"]["name"], r["contact"]["email"]) for r in stored) == [
        ("Checkout completed", "billz@supabase.io"),
        ("Payment failed", "julienbourdeau@hey.com"),
    ]
    # ... and the built charge.failed with its payment_intent event (one attempt, no customer)
    assert registry.get_sample_value("activity_consumer_events_parked_total",
                                     {"topic": topic}) == 12
    assert registry.get_sample_value("activity_consumer_dead_letters_total",
                                     {"topic": topic, "reason": "transform"}) is None


def test_stripe_events_land_by_customer_id_with_a_configured_transform(
        kafka_broker, topic_factory, produce, sandbox, consumer_setup, run_consumer):
    topic, stored, registry = _run_stripe(
        topic_factory, produce, sandbox, consumer_setup, run_consumer,
        "tests.integration.test_vendor_pipeline:STRIPE_BY_CUSTOMER_ID")
    # Stripe's 2012 samples all carry the placeholder id evt_00000000000000. A failed charge is
    # keyed on its attempt (stripe:charge:<id>:failed, shared with its payment_intent event), so
    # of the two others keyed on that event id the ledger posts the first (charge.refunded) and
    # skips invoice.payment_failed.
    assert Counter(r["activity"]["name"] for r in stored) == Counter({
        "Payment failed": 3, "Payment refunded": 2, "Payment partly refunded": 1,
        "Payment succeeded": 1, "Checkout completed": 1})
    contacts = [r["contact"] for r in stored]
    assert {"unique_external_id": "stripe:cus_SR8o2vcGRkVb6v"} in contacts
    assert {"email": "billz@supabase.io"} in contacts  # an email still comes first
    # the other 5 name no customer at all (both disputes, a docs charge, and the built failed
    # charge with its payment_intent event: one attempt): they wait
    assert registry.get_sample_value("activity_consumer_events_parked_total",
                                     {"topic": topic}) == 5


def test_try_posts_a_vendor_event_to_the_sandbox(sandbox, capsys) -> None:
    parser_root = __import__("argparse").ArgumentParser(prog="activity-consumer")
    add_parser(parser_root.add_subparsers())
    args = parser_root.parse_args([
        "try", "-t", "stripe", "--post", sandbox.base_url, "--api-key", "sandbox-key",
        str(VENDORS / "stripe" / "evt_checkout.session.completed_2020-03-02.json")])
    assert args.func(args) == 0
    assert "/api/v2/contact-activities: 200" in capsys.readouterr().out
    assert [r["activity"]["name"] for r in sandbox.activities()] == ["Checkout completed"]
