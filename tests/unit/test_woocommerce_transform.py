"""The built-in ``woocommerce`` transform on WooCommerce's documented REST API v3 payloads (the
webhook body is the REST resource; tests/fixtures/vendors/woocommerce, sources in its MANIFEST.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from transforms import (
    Activity,
    Actor,
    Contact,
    EventMeta,
    Filtered,
    Link,
    TransformError,
    check,
    encode,
    woocommerce,
)
from transforms.woocommerce import woocommerce_activity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "woocommerce"
CREATED = "order_727_processing_wp-api-v3-create.json"  # guest, via rest-api, paid by bacs
COMPLETED = "order_727_completed_wp-api-v3-update.json"
REFUNDED = "order_723_completed-two-refunds_wp-api-v3-list.json"  # customer 26, two refunds
CUSTOMER = "customer_25_wp-api-v3-create.json"
KAFKA_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RESOLVED = Contact(email="rachel@example.com")


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / name).read_bytes())


def meta(topic: str | None, source: str | None = "https://example.com/") -> EventMeta:
    headers = [("X-WC-Webhook-Topic", topic)] if topic else []
    headers += [("X-WC-Webhook-Source", source)] if source else []
    return EventMeta("woo", 0, 1, KAFKA_TIME, None, tuple((k, v.encode()) for k, v in headers))


def run(event: Any, topic: str | None, transform: Any = woocommerce_activity,
        source: str | None = "https://example.com/") -> tuple[list[Activity], list[Link]]:
    checked = check(transform(event, meta(topic, source)))
    assert checked.filtered is None, checked.filtered
    for activity in checked.activities:
        encode(activity.with_contact(RESOLVED) if activity.needs_contact else activity)
    return list(checked.activities), list(checked.links)


def test_an_order_created_by_the_api_is_the_shops_activity_for_the_billing_email() -> None:
    activities, links = run(load(CREATED), "order.created")
    [activity] = activities
    assert activity.name == "Order #727 created"
    assert activity.description == (
        "Order #727 for 29.35 USD (3 items) was created by the shop (rest-api).")
    assert activity.actor.type == "system"
    assert activity.contact.identifier() == ("email", "john.doe@example.com")
    assert activity.key == "woocommerce:order:727:placed"
    assert activity.timestamp == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)  # date_created_gmt
    assert activity.object is not None
    assert activity.object.link == "https://example.com/wp-admin/post.php?post=727&action=edit"
    context = activity.context
    assert context is not None
    assert context["Item description"]["Item 2"] == {
        "Item name": "Ship Your Idea \u2013 Color: Black, Size: M Test", "Quantity": 1,
        "Price": "12.00 USD", "SKU": "Bar3"}  # WooCommerce sends "&ndash;": decoded for agents
    # a guest order (customer_id 0): only the order is learned
    assert links == [Link("woocommerce:order:727",
                          contact=Contact(email="john.doe@example.com", phone="(555) 555-5555"))]


def test_an_order_placed_at_checkout_is_the_customers_activity() -> None:
    order = load(CREATED) | {"created_via": "checkout"}
    [activity], _ = run(order, "order.created")
    assert activity.name == "Order #727 placed"
    assert activity.description == "John Doe placed order #727 for 29.35 USD (3 items)."
    assert activity.actor.type == "contact" and activity.actor.name == "John Doe"


@pytest.mark.parametrize(("status", "name", "description"), [
    ("processing", "Order #727 processing", "Order #727 (29.35 USD) is paid and being prepared."),
    ("completed", "Order #727 completed", "Order #727 (29.35 USD) was completed."),
    ("on-hold", "Order #727 on hold",
     "Order #727 (29.35 USD) is on hold, awaiting payment (Direct Bank Transfer)."),
    ("cancelled", "Order #727 cancelled", "Order #727 (29.35 USD) was cancelled."),
    ("failed", "Order #727 payment failed", "Order #727 (29.35 USD) could not be paid: the "
                                            "payment failed or was declined (Direct Bank Transfer)."),
    ("refunded", "Order #727 refunded", "Order #727 (29.35 USD) was refunded in full."),
    ("shipped", "Order #727 shipped", "Order #727 (29.35 USD) is now shipped."),  # a plugin's
])
def test_each_status_an_update_carries_is_one_activity_keyed_by_the_status(
        status: str, name: str, description: str) -> None:
    [activity], _ = run(load(CREATED) | {"status": status}, "order.updated")
    assert (activity.name, activity.description) == (name, description)
    assert activity.key == f"woocommerce:order:727:{status}"  # repeats are one fact for the ledger


def test_a_completed_order_is_dated_when_it_was_completed() -> None:
    [activity], _ = run(load(COMPLETED), "order.updated")
    assert activity.timestamp == datetime(2017, 3, 22, 19, 30, 35, tzinfo=UTC)


@pytest.mark.parametrize("status", ["pending", "checkout-draft", "trash"])
def test_statuses_that_tell_an_agent_nothing_only_teach_the_directory(status: str) -> None:
    activities, links = run(load(CREATED) | {"status": status}, "order.updated")
    assert activities == [] and links  # the order's email is still worth learning
    order = load(CREATED) | {"status": status, "billing": {}}
    assert woocommerce_activity(order, meta("order.updated")) == Filtered(
        "status_not_shown", f"woocommerce: order status {status} is not shown on the timeline")


def test_the_newest_partial_refund_is_reported_with_the_total_refunded() -> None:
    activities, links = run(load(REFUNDED), "order.updated")
    completed, refund = activities
    assert completed.key == "woocommerce:order:723:completed"
    assert refund.name == "Order #723 partly refunded"
    # WooCommerce lists refunds newest first, with negative totals
    assert refund.description == (
        "10.00 USD of order #723 (39.00 USD) was refunded (19.00 USD refunded in total).")
    assert refund.key == "woocommerce:refund:726"
    assert refund.context is not None and refund.context["Refunded amount"] == "10.00 USD"
    joao = Contact(email="joao.silva@example.com", phone="(11) 1111-1111")
    assert links == [Link("woocommerce:order:723", contact=joao),
                     Link("woocommerce:customer:26", contact=joao)]


def test_an_order_without_email_or_phone_names_its_order_and_customer() -> None:
    order = load(REFUNDED)
    order["billing"].update(email="", phone="")
    activities, links = run(order, "order.updated")
    assert activities[0].contact == Contact(refs=("woocommerce:order:723", "woocommerce:customer:26"))
    assert links == [Link("woocommerce:order:723", alias_of="woocommerce:customer:26")]


def test_a_customer_record_teaches_its_email_and_phone() -> None:
    activities, links = run(load(CUSTOMER), "customer.created")
    assert activities == []
    assert links == [Link("woocommerce:customer:25", contact=Contact(
        email="john.doe@example.com", phone="(555) 555-5555"))]


def test_topics_that_are_not_shown_are_filtered_with_their_reason() -> None:
    assert woocommerce_activity(load(CREATED), meta("order.deleted")) == Filtered(
        "event_type_not_shown", "woocommerce: topic order.deleted is not shown on the timeline")
    assert woocommerce_activity({"webhook_id": "42"}, meta(None)).reason == "event_type_not_shown"  # type: ignore[union-attr]


def test_the_topic_and_store_can_come_from_an_envelope() -> None:
    wrapped = {"topic": "order.updated", "source": "https://shop.example/", "payload": load(COMPLETED)}
    [activity], _ = run(wrapped, None, source=None)
    assert activity.name == "Order #727 completed"
    assert activity.source.id == "shop.example"
    assert activity.object is not None
    assert activity.object.link == "https://shop.example/wp-admin/post.php?post=727&action=edit"


def test_without_a_store_address_there_is_no_admin_link_rather_than_a_wrong_one() -> None:
    order = load(COMPLETED)
    del order["_links"]  # nothing in the delivery says which store it is
    [activity], _ = run(order, "order.updated", source=None)
    assert activity.object is not None and activity.object.link is None
    fixed = woocommerce.configure(topic="order.updated", store_url="https://acme.example")
    [configured], _ = run(load(COMPLETED), None, transform=fixed, source=None)
    assert configured.object is not None
    assert configured.object.link == "https://acme.example/wp-admin/post.php?post=727&action=edit"


@pytest.mark.parametrize(("event", "topic", "message"), [
    ([1], "order.created", r"^not a WooCommerce delivery: expected a JSON object \(got array\)"),
    ({"id": 727, "status": "processing"}, None, r"^not a WooCommerce delivery: no topic: expected "
                                                "the X-WC-Webhook-Topic header"),
    ({"object": "event", "type": "charge.succeeded"}, "order.created",
     r"^not a WooCommerce order: no `id`/`status`"),
    ({"id": 727, "status": "processing", "total": "-29.35", "currency": "USD"}, "order.created",
     r"^WooCommerce order 727: total '-29.35' is negative"),
    ({"id": 727, "status": "processing", "billing": {"email": 123}}, "order.created",
     r"^WooCommerce email: expected a string \(got number\)"),
])
def test_what_cannot_be_read_says_what_and_where(event: Any, topic: str | None,
                                                 message: str) -> None:
    with pytest.raises(TransformError, match=message):
        woocommerce_activity(event, meta(topic))


def test_configure_refuses_a_topic_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="known topics are"):
        woocommerce.configure(topic="product.created")


# ---- issue 22 ------------------------------------------------------------------------------------


def test_without_the_source_header_the_payloads_own_links_name_the_store() -> None:
    # class 3; before: the actor (the shop) was named after the Kafka topic, "woo"
    [activity], _ = run(load(COMPLETED), "order.updated", source=None)
    assert activity.actor == Actor(id="example.com", name="example.com", type="system")
    assert activity.source.id == "example.com"
    assert activity.object is not None
    assert activity.object.link == "https://example.com/wp-admin/post.php?post=727&action=edit"


def test_a_delivery_that_names_no_store_is_the_shops_doing_not_the_topics() -> None:
    order = load(COMPLETED)
    del order["_links"]
    [activity], _ = run(order, "order.updated", source=None)
    assert activity.actor == Actor(id="woocommerce", name="WooCommerce", type="system")
    assert activity.actor.name != "woo"  # the Kafka topic


def test_html_entities_in_names_and_titles_reach_the_timeline_decoded() -> None:
    order = load(CREATED) | {"payment_method_title": "Cash &amp; Carry", "status": "on-hold"}
    order["line_items"][0]["name"] = "Socks &amp; Shoes &#8211; Red"
    [activity], _ = run(order, "order.updated")
    assert activity.description == (
        "Order #727 (29.35 USD) is on hold, awaiting payment (Cash & Carry).")
    assert activity.context is not None
    assert activity.context["Item description"]["Item 1"]["Item name"] == "Socks & Shoes \u2013 Red"


def test_a_legacy_rest_api_delivery_wraps_the_order_and_is_read_as_one() -> None:
    # class 5; before: "not a WooCommerce order: no `id`/`status`"
    activities, links = run(load("order_645_legacy-v3-wrapped_wc-api-v3-docs.json"), "order.updated")
    [activity] = activities
    assert activity.name == "Order #645 processing"
    assert activity.description == "Order #645 (79.87 USD) is paid and being prepared."
    assert activity.timestamp == datetime(2015, 1, 26, 20, 0, 21, tzinfo=UTC)  # updated_at
    assert activity.contact.identifier() == ("email", "john.doe@example.com")
    assert activity.context is not None
    assert activity.context["Payment method"] == "Direct Bank Transfer"
    assert activity.context["Item description"]["Item 1"] == {
        "Item name": "Premium Quality", "Quantity": 2, "Price": "21.99 USD"}
    assert Link("woocommerce:customer:2", contact=Contact(
        email="john.doe@example.com", phone="(555) 555-5555")) in links
    [created], _ = run(load("order_645_legacy-v3-wrapped_wc-api-v3-docs.json"), "order.created")
    assert created.timestamp == datetime(2015, 1, 26, 20, 0, 21, tzinfo=UTC)  # created_at


def test_an_action_webhook_is_filtered_saying_what_it_is() -> None:
    event = load("action_woocommerce_order_status_completed_built.json")
    filtered = woocommerce_activity(event, meta("action.woocommerce_order_status_completed"))
    assert filtered == Filtered(
        "event_type_not_shown",
        "woocommerce: action.woocommerce_order_status_completed is an action webhook (a "
        "WordPress hook's name and argument, not an order or customer): not shown on the "
        "timeline; subscribe the webhook to an order.* or customer.* topic")
