"""The built-in ``shopify`` transform on Shopify's own sample payloads (tests/fixtures/vendors/shopify,
sources in its MANIFEST.md): every topic, the orders/updated rule, contacts, links, bad deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from transforms import Activity, EventMeta, TransformError, encode, shopify
from transforms.shopify import shopify_activity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "shopify"
LEGACY = "order_legacy_python-api.json"  # #1001, Bob Norman, no shop domain in the payload
TEST_NOTIFICATION = "order_2019-04_test-notification.json"  # #9999, ids above 2**53, cancelled
CANCELLED_2023 = "order_2023_cancelled-refunded_activepieces.json"  # #1009, cancelled + refunded
PAID_NO_CUSTOMER = "order_2023_paid-draft-no-customer_activepieces.json"
REFUND = "refund_legacy_python-api.json"
CHECKOUT = "checkout_legacy_python-api.json"
KAFKA_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / name).read_bytes())


def meta(topic: str | None, **headers: str) -> EventMeta:
    pairs = [("X-Shopify-Topic", topic)] if topic else []
    pairs += [(k.replace("_", "-"), v) for k, v in headers.items()]
    return EventMeta("shopify", 0, 7, KAFKA_TIME, None, tuple((k, v.encode()) for k, v in pairs))


def one(event: dict[str, Any], topic: str | None, transform: Any = shopify_activity,
        **headers: str) -> Activity:
    result = transform(event, meta(topic, **headers))
    assert isinstance(result, Activity), result
    encode(result)
    return result


def test_orders_create_from_the_webhook_test_notification_keeps_64_bit_ids_exact() -> None:
    activity = one(load(TEST_NOTIFICATION), "orders/create")
    assert activity.name == "Order #9999 placed"
    assert activity.description == "John Smith placed order #9999 for 403.00 USD (2 items)."
    assert activity.contact.identifier() == ("email", "jon@doe.ca")  # the order's, not the account's
    assert activity.actor.id == "115310627314723954" and activity.actor.type == "contact"
    assert activity.object is not None
    assert activity.object.id == "820982911946154508"
    # no shop header: the admin domain comes from the order status page's myshopify address
    assert activity.object.link == "https://apple.myshopify.com/admin/orders/820982911946154508"
    assert activity.key == "shopify:order:820982911946154508:placed"
    assert activity.timestamp == datetime(2019, 6, 4, 17, 53, 6, tzinfo=UTC)
    assert activity.context is not None
    assert activity.context["Order ID"] == "820982911946154508"
    assert activity.context["Item description"]["Item 1"] == {
        "Item name": "IPod Nano - 8GB", "Quantity": 1, "Price": "199.00 USD",
        "SKU": "IPOD2008PINK"}


def test_orders_paid_names_the_payer_and_links_the_admin_from_the_shop_header() -> None:
    activity = one(load(LEGACY), "orders/paid", X_Shopify_Shop_Domain="jsmith.myshopify.com")
    assert activity.name == "Order #1001 paid"
    assert activity.description == "Bob Norman paid 409.94 USD for order #1001."
    assert activity.object is not None
    assert activity.object.link == "https://jsmith.myshopify.com/admin/orders/450789469"
    assert activity.source.id == "jsmith.myshopify.com" and activity.source.name == "Shopify"
    assert activity.context is not None
    assert activity.context["Payment status"] == "authorized"
    assert activity.context["Items"] == 3


def test_order_without_a_shop_domain_has_no_admin_link_rather_than_a_wrong_one() -> None:
    activity = one(load(LEGACY), "orders/create")
    assert activity.object is not None and activity.object.link is None
    assert activity.source.id == "shopify"  # the Kafka topic


def test_cancelled_by_the_customer_is_the_customers_activity() -> None:
    activity = one(load(TEST_NOTIFICATION), "orders/cancelled")
    assert activity.name == "Order #9999 cancelled"
    assert activity.description == "John Smith cancelled order #9999 (403.00 USD). Payment: voided."
    assert activity.actor.type == "contact"
    assert activity.context is not None and activity.context["Cancellation reason"] == "customer"


def test_cancelled_for_another_reason_is_the_shops_activity() -> None:
    activity = one(load(CANCELLED_2023), "orders/cancelled")
    assert activity.description == "Order #1009 (1806.38 USD) was cancelled. Payment: refunded."
    assert activity.actor.type == "system"
    assert activity.actor.id == "activepieces-test.myshopify.com"
    assert activity.timestamp == datetime(2023, 3, 24, 22, 8, 18, tzinfo=UTC)


def test_fulfilled_ignores_a_failed_fulfillment_and_says_fulfilled_not_shipped() -> None:
    activity = one(load(LEGACY), "orders/fulfilled")
    assert activity.name == "Order #1001 fulfilled"
    assert activity.description == "Order #1001 was fulfilled."
    assert activity.actor.type == "system"
    assert activity.key == "shopify:order:450789469:fulfilled"


def test_fulfilled_with_tracking_says_shipped_with_the_carrier() -> None:
    order = load(LEGACY)
    order["fulfillments"][0].update(status="success", tracking_company="UPS")
    activity = one(order, "orders/fulfilled")
    assert activity.name == "Order #1001 shipped"
    assert activity.description == "Order #1001 was shipped with UPS, tracking number 1Z2345."
    assert activity.context is not None
    assert activity.context["Tracking link"].startswith("http://wwwapps.ups.com/etracking/")
    assert activity.timestamp == datetime(2014, 1, 22, 20, 58, 27, tzinfo=UTC)


def test_orders_updated_reports_the_facts_dated_to_this_update_with_their_topics_keys() -> None:
    result = shopify_activity(load(CANCELLED_2023), meta("orders/updated"))
    assert isinstance(result, list)
    assert [a.name for a in result] == ["Order #1009 cancelled", "Order #1009 refunded"]
    cancelled, refunded = result
    assert cancelled.key == one(load(CANCELLED_2023), "orders/cancelled").key
    assert refunded.key == "shopify:refund:945108681014"
    assert refunded.description == "Order #1009 was refunded in full (1806.38 USD)."
    for activity in result:
        encode(activity)


def test_orders_updated_without_a_change_dated_to_it_is_filtered() -> None:
    assert shopify_activity(load(LEGACY), meta("orders/updated")) is None


def test_refunds_create_names_no_customer_so_it_is_rejected_with_the_way_out() -> None:
    with pytest.raises(TransformError, match="subscribe to orders/updated"):
        shopify_activity(load(REFUND), meta("refunds/create"))


def test_refunds_create_with_an_email_added_upstream_becomes_an_activity() -> None:
    refund = load(REFUND) | {"email": "bob.norman@hostmail.com"}
    activity = one(refund, "refunds/create")
    assert activity.name == "Order refunded"
    assert activity.description == "209.00 USD of order 450789469 was refunded: it broke during shipping."
    assert activity.key == "shopify:refund:509562969"
    assert activity.context is not None
    assert activity.context["Items"] == 2
    assert activity.timestamp == datetime(2016, 6, 20, 17, 35, 6, tzinfo=UTC)


def test_checkout_started_gives_the_agent_the_recovery_link() -> None:
    activity = one(load(CHECKOUT), "checkouts/create", X_Shopify_Shop_Domain="jsmith.myshopify.com")
    assert activity.name == "Checkout started"
    assert activity.description == (
        "Bob Norman started a checkout for 409.94 USD (2 items) and has not completed it yet.")
    assert activity.context is not None
    assert activity.context["Checkout link for the customer"].startswith("https://checkout.local/")
    assert activity.object is not None
    assert activity.object.link == "https://jsmith.myshopify.com/admin/checkouts/450789469"


def test_a_completed_checkout_is_filtered_because_the_order_tells_it() -> None:
    checkout = load(CHECKOUT) | {"completed_at": "2012-10-12T07:15:27-04:00"}
    assert shopify_activity(checkout, meta("checkouts/create")) is None


def test_draft_order_without_any_customer_is_rejected_with_a_reason() -> None:
    with pytest.raises(TransformError, match="5324830114101 has no customer email or phone"):
        shopify_activity(load(PAID_NO_CUSTOMER), meta("orders/paid"))


def test_contact_falls_back_to_phone_then_a_configured_external_id() -> None:
    order = load(CANCELLED_2023)
    order["email"] = order["contact_email"] = order["customer"]["email"] = None
    assert one(order, "orders/create").contact.identifier() == ("phone", "+16135550135")
    order["customer"]["phone"] = None
    with pytest.raises(TransformError, match=r"shopify.configure\(external_id="):
        shopify_activity(order, meta("orders/create"))
    configured = shopify.configure(external_id="shopify:{customer_id}")
    activity = one(order, "orders/create", transform=configured)
    assert activity.contact.identifier() == ("unique_external_id", "shopify:6972527083830")


def test_topic_from_an_envelope_with_configurable_field_names() -> None:
    wrapped = {"topic": "orders/create", "shop_domain": "acme.myshopify.com",
               "payload": load(LEGACY)}
    activity = one(wrapped, None)
    assert activity.name == "Order #1001 placed"
    assert activity.object is not None
    assert activity.object.link == "https://acme.myshopify.com/admin/orders/450789469"
    renamed = shopify.configure(topic_field="kind", payload_field="body")
    assert one({"kind": "orders/paid", "body": load(LEGACY)}, None, renamed).name == "Order #1001 paid"


def test_header_name_is_any_case_and_graphql_topic_names_work() -> None:
    event_meta = EventMeta("t", 0, 0, KAFKA_TIME, None, (("x-shopify-topic", b"ORDERS_PAID"),))
    result = shopify_activity(load(LEGACY), event_meta)
    assert isinstance(result, Activity) and result.name == "Order #1001 paid"


def test_a_fixed_topic_needs_no_header() -> None:
    fixed = shopify.configure(topic="orders/create")
    assert one(load(LEGACY), None, fixed).name == "Order #1001 placed"


def test_no_topic_is_rejected_saying_where_it_was_looked_for() -> None:
    with pytest.raises(TransformError, match="X-Shopify-Topic header or an envelope"):
        shopify_activity(load(LEGACY), meta(None))


@pytest.mark.parametrize("topic", ["orders/delete", "products/create", "customers/update"])
def test_topics_an_agent_does_not_need_are_filtered(topic: str) -> None:
    assert shopify_activity(load(LEGACY), meta(topic)) is None


def test_long_item_lists_are_trimmed_to_ten_and_counted() -> None:
    order = load(LEGACY)
    order["line_items"] = [dict(order["line_items"][0], sku=f"SKU-{i}") for i in range(25)]
    context = one(order, "orders/create").context
    assert context is not None
    assert context["Items"] == 25
    assert len(context["Item description"]) == 11
    assert context["Item description"]["Item 10"]["SKU"] == "SKU-9"
    assert context["Item description"]["More"] == "and 15 more"


def test_a_float_order_id_is_rejected_because_its_digits_may_be_gone() -> None:
    order = load(TEST_NOTIFICATION) | {"id": 8.209829119461545e17}
    with pytest.raises(TransformError, match="send large ids as strings"):
        shopify_activity(order, meta("orders/create"))


def test_total_is_shown_in_the_currency_the_customer_paid() -> None:
    order = load(TEST_NOTIFICATION)
    order["total_price_set"]["presentment_money"] = {"amount": "55000", "currency_code": "JPY"}
    assert one(order, "orders/create").context["Total"] == "55000 JPY"  # type: ignore[index]


def test_configure_refuses_options_that_cannot_work() -> None:
    with pytest.raises(ValueError, match="must contain"):
        shopify.configure(external_id="shopify-customer")
    with pytest.raises(ValueError, match="known topics are"):
        shopify.configure(topic="orders/exploded")
    with pytest.raises(TypeError):
        shopify.configure(topic_feild="kind")
