"""The built-in ``orders`` transform: every event type, filtering and bad events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from transforms import Activity, Contact, EventMeta, Filtered, TransformError, encode
from transforms.orders import order_activity

META = EventMeta("shop.orders", 3, 42, datetime(2024, 5, 1, 23, 59, tzinfo=UTC), b"cus_1")


def event(type: str = "order.created", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "evt_1",
        "type": type,
        "occurred_at": "2024-05-01T09:02:11Z",
        "customer": {"id": "cus_rachel", "name": "Rachel Green", "email": "rachel@example.com"},
        "order": {
            "id": "ord_1", "number": 1001, "status": None, "currency": "USD", "total": "50.00",
            "items": [
                {"name": "White Ace Sneakers", "sku": "SNK-10", "quantity": 1, "price": "42",
                 "options": {"size": "10 UK"}},
                {"name": "Merino Socks", "quantity": 2, "price": "4.00"},
            ],
            "link": "https://shop.example/orders/1001",
        },
    }
    base.update(changes)
    return base


def transform(ev: dict[str, Any], meta: EventMeta = META) -> Activity:
    activity = order_activity(orjson.loads(orjson.dumps(ev)), meta)
    assert isinstance(activity, Activity)
    encode(activity)  # every activity a built-in makes passes the contract
    return activity


ITEMS = {
    "Item 1": {"Item name": "White Ace Sneakers", "Quantity": 1, "Price": "42.00 USD",
               "SKU": "SNK-10", "Size": "10 UK"},
    "Item 2": {"Item name": "Merino Socks", "Quantity": 2, "Price": "4.00 USD"},
}


def test_order_created_shows_number_total_and_items() -> None:
    activity = transform(event())
    assert activity.name == "Order #1001 placed"
    assert activity.description == "Rachel Green placed order #1001 for 50.00 USD (3 items)."
    assert activity.context == {
        "Order number": "#1001", "Status": "placed", "Total": "50.00 USD", "Items": 3,
        "Item description": ITEMS,
    }
    assert activity.contact == Contact(email="rachel@example.com")
    assert activity.actor.type == "contact"
    assert (activity.actor.id, activity.actor.name) == ("cus_rachel", "Rachel Green")
    assert activity.key == "orders:evt_1"
    assert activity.object is not None
    assert (activity.object.type, activity.object.id) == ("order", "ord_1")
    assert activity.object.link == "https://shop.example/orders/1001"
    assert activity.timestamp == datetime(2024, 5, 1, 9, 2, 11, tzinfo=UTC)
    assert (activity.source.name, activity.source.id) == ("shop", "shop.orders")


def test_order_paid_is_the_customer_paying() -> None:
    activity = transform(event("order.paid"))
    assert activity.name == "Order #1001 paid"
    assert activity.description == "Rachel Green paid 50.00 USD for order #1001."
    assert activity.actor.type == "contact"
    assert activity.context is not None
    assert activity.context["Status"] == "paid"
    assert activity.context["Item description"] == ITEMS
    assert activity.key == "orders:evt_1"


def test_order_cancelled_by_the_customer_gives_the_reason() -> None:
    activity = transform(event("order.cancelled", reason="Ordered the wrong size.",
                               cancelled_by="customer"))
    assert activity.name == "Order #1001 cancelled"
    assert activity.description == (
        "Rachel Green cancelled order #1001 (50.00 USD): Ordered the wrong size."
    )
    assert activity.actor.type == "contact"
    assert activity.context is not None
    assert activity.context["Cancellation reason"] == "Ordered the wrong size."
    assert activity.context["Cancelled by"] == "customer"
    assert activity.context["Status"] == "cancelled"


def test_order_cancelled_by_the_shop_has_a_system_actor() -> None:
    activity = transform(event("order.cancelled", reason="out_of_stock",
                               source={"name": "Demo Shop", "id": "web"}))
    assert activity.description == "Order #1001 (50.00 USD) was cancelled: out of stock."
    assert (activity.actor.type, activity.actor.id, activity.actor.name) == (
        "system", "web", "Demo Shop")
    assert activity.context is not None
    assert activity.context["Cancelled by"] == "Demo Shop"


def test_order_fulfilled_shows_carrier_and_tracking() -> None:
    activity = transform(event("order.fulfilled", fulfillment={
        "carrier": "UPS", "tracking_number": "1Z999", "tracking_url": "https://ups.example/1Z999"}))
    assert activity.name == "Order #1001 shipped"
    assert activity.description == "Order #1001 was shipped with UPS, tracking number 1Z999."
    assert activity.actor.type == "system"
    assert activity.context == {
        "Order number": "#1001", "Status": "shipped", "Total": "50.00 USD", "Carrier": "UPS",
        "Tracking number": "1Z999", "Tracking link": "https://ups.example/1Z999", "Items": 3,
        "Item description": ITEMS,
    }
    assert activity.object is not None
    assert activity.object.link == "https://shop.example/orders/1001"


def test_order_fulfilled_without_shipping_details_says_fulfilled() -> None:
    activity = transform(event("order.fulfilled"))
    assert activity.name == "Order #1001 fulfilled"
    assert activity.description == "Order #1001 was fulfilled."


def test_order_refunded_in_part_by_the_shop() -> None:
    activity = transform(event("order.refunded",
                               refund={"amount": "8.00", "reason": "socks arrived with a hole"}))
    assert activity.name == "Order #1001 partly refunded"
    assert activity.description == (
        "8.00 USD of order #1001 (50.00 USD) was refunded: socks arrived with a hole."
    )
    assert activity.actor.type == "system"
    assert activity.context == {
        "Order number": "#1001", "Status": "partly refunded", "Total": "50.00 USD",
        "Refund amount": "8.00 USD", "Refund reason": "socks arrived with a hole",
    }


def test_order_refunded_in_full() -> None:
    activity = transform(event("order.refunded", refund={"amount": "50"}))
    assert activity.name == "Order #1001 refunded"
    assert activity.description == "Order #1001 was refunded in full (50.00 USD)."


@pytest.mark.parametrize("type", ["order.viewed", "cart.abandoned", "ORDER.CREATED"])
def test_unknown_types_are_filtered_with_their_reason(type: str) -> None:
    assert order_activity(event(type), META) == Filtered(
        "event_type_not_shown", f"orders: {type} is not shown on the timeline")


def test_filtered_events_need_no_valid_body() -> None:
    result = order_activity({"type": "order.viewed"}, META)
    assert isinstance(result, Filtered) and result.reason == "event_type_not_shown"


@pytest.mark.parametrize(("email", "kind"), [(123, "number"), (["r@example.com"], "array"),
                                             ({"address": "r@example.com"}, "object")])
def test_an_email_that_is_not_a_string_is_refused_not_printed(email: Any, kind: str) -> None:
    # it used to become the contact "123": someone else's timeline, or a new contact
    with pytest.raises(TransformError, match=rf"^customer.email: expected a string \(got {kind}"):
        order_activity(event(customer={"email": email, "name": "Rachel"}), META)


@pytest.mark.parametrize("total", ["-50.00", -50, "-0.01"])
def test_a_negative_total_is_refused(total: Any) -> None:
    ev = event()
    ev["order"]["total"] = total
    with pytest.raises(TransformError, match=r"^order.total: .* is negative"):
        order_activity(ev, META)


def test_a_vendor_webhook_on_the_generic_topic_says_which_transform_reads_it() -> None:
    with pytest.raises(TransformError, match=r"not an orders event: no `type`.*Stripe event"):
        order_activity({"object": "event", "id": "evt_1", "data": {}}, META)
    with pytest.raises(TransformError, match="looks like a WooCommerce webhook"):
        order_activity({"id": 727, "order_key": "wc_order_58d2d042d1d"}, META)


def test_event_without_customer_identifiers_is_refused() -> None:
    for customer in ({"id": "c1", "name": "Rachel"}, {"email": "", "phone": None}, None):
        with pytest.raises(TransformError) as caught:
            order_activity(event(customer=customer), META)
        assert str(caught.value) == "event has no customer email, phone or external id"


def test_customer_without_email_is_found_by_phone_then_external_id() -> None:
    by_phone = transform(event(customer={"id": "c1", "phone": "+15550100", "external_id": 77}))
    assert by_phone.contact.identifier() == ("phone", "+15550100")
    assert by_phone.actor.name == "+15550100"  # no name: the agent still sees who
    by_external = transform(event(customer={"external_id": 77}))
    assert by_external.contact.identifier() == ("unique_external_id", "77")
    assert orjson.loads(encode(by_external))["contact"] == {"unique_external_id": "77"}


def test_missing_occurred_at_falls_back_to_the_kafka_timestamp() -> None:
    activity = transform(event(occurred_at=None))
    assert activity.timestamp == datetime(2024, 5, 1, 23, 59, tzinfo=UTC)


def test_event_with_no_time_at_all_is_refused() -> None:
    no_time = EventMeta("shop.orders", 3, 42, None, None)
    with pytest.raises(TransformError, match="no occurred_at and its Kafka message has no timestamp"):
        order_activity(event(occurred_at=None), no_time)


def test_unreadable_occurred_at_is_refused_not_replaced() -> None:
    with pytest.raises(TransformError, match=r"^occurred_at: 'last tuesday' is not an ISO-8601"):
        order_activity(event(occurred_at="last tuesday"), META)


def test_ids_above_2_pow_53_stay_exact() -> None:
    big = 2**53 + 1
    raw = (b'{"event_id": 9007199254740993, "type": "order.created", "occurred_at": 1714557600,'
           b' "customer": {"id": 9007199254740995, "email": "r@example.com"},'
           b' "order": {"id": 9007199254740997, "number": 9007199254740999}}')
    activity = order_activity(orjson.loads(raw), META)
    assert activity is not None
    assert activity.key == f"orders:{big}"
    assert activity.actor.id == str(big + 2)
    assert activity.object is not None and activity.object.id == str(big + 4)
    assert activity.name == f"Order #{big + 6} placed"
    assert orjson.loads(encode(activity))["activity"]["object"]["id"] == "9007199254740997"


def test_float_ids_are_refused_because_their_digits_may_be_lost() -> None:
    with pytest.raises(TransformError, match=r"^event_id: expected a string or integer id"):
        order_activity(event(event_id=9.007199254740993e15), META)


def test_long_item_lists_are_trimmed_to_ten_with_a_count_of_the_rest() -> None:
    items = [{"name": f"Sticker {n}", "quantity": 1, "price": "1.00"} for n in range(1, 14)]
    ev = event()
    ev["order"]["items"] = items
    activity = transform(ev)
    assert activity.context is not None
    described = activity.context["Item description"]
    assert list(described) == [f"Item {n}" for n in range(1, 11)] + ["More"]
    assert described["More"] == "and 3 more"
    assert activity.context["Items"] == 13


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"order": None}, "order.created event has no order object"),
        ({"order": {"number": 1}}, "order.created event has no order.id"),
        ({"order": {"id": "o", "total": "50"}}, r"order.currency is missing \(needed to show order.total\)"),
        ({"order": {"id": "o", "currency": "dollars"}}, "order.currency: 'dollars' is not an ISO 4217"),
        ({"order": {"id": "o", "currency": "USD", "total": "fifty"}},
         "order.total: 'fifty' is not a decimal amount"),
        ({"order": {"id": "o", "items": {"a": 1}}}, "order.items: expected an array"),
        ({"order": {"id": "o", "items": [{"name": "x", "quantity": "2"}]}},
         r"order.items\[0\].quantity: expected a whole number"),
        ({"event_id": None}, "event has no event_id"),
        ({"type": None}, "not an orders event: no `type`"),
        ({"customer": "rachel@example.com"}, "customer: expected an object"),
    ],
)
def test_bad_events_are_refused_with_the_field_that_is_wrong(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(TransformError, match=message):
        order_activity(event(**change), META)


def test_an_event_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(TransformError, match=r"not an orders event: expected a JSON object \(got array\)"):
        order_activity([1, 2], META)


def test_amounts_use_the_currency_exponent() -> None:
    ev = event()
    ev["order"].update(currency="JPY", total=5000, items=[{"name": "Tea", "price": "5000"}])
    activity = transform(ev)
    assert activity.description == "Rachel Green placed order #1001 for 5000 JPY (1 item)."
