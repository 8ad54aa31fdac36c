"""The built-in ``shopify`` transform on Shopify's own sample payloads (tests/fixtures/vendors/shopify,
sources in its MANIFEST.md): every topic, the orders/updated rule, contacts, links, bad deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from transforms import (
    Activity,
    Contact,
    EventMeta,
    Filtered,
    Link,
    TransformError,
    check,
    encode,
    shopify,
)
from transforms.shopify import shopify_activity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "shopify"
LEGACY = "order_legacy_python-api.json"  # #1001, Bob Norman, no shop domain in the payload
TEST_NOTIFICATION = "order_2019-04_test-notification.json"  # #9999, ids above 2**53, cancelled
CANCELLED_2023 = "order_2023_cancelled-refunded_activepieces.json"  # #1009, cancelled + refunded
PAID_NO_CUSTOMER = "order_2023_paid-draft-no-customer_activepieces.json"
REFUND = "refund_legacy_python-api.json"
CHECKOUT = "checkout_legacy_python-api.json"
MULTI_CURRENCY = "order_2019-04_multi-currency-EUR_built.json"  # shop USD, customer paid EUR
NO_EMAIL = "order_2019-04_no-email-address-phones_built.json"  # only the addresses have phones
CHECKOUT_2026 = "checkout_2026-04-token-no-id_built.json"  # token, no id
REFUND_NULL_CURRENCY = "refund_2023_null-currency-75+10_built.json"
RESOLVED = Contact(email="rachel@example.com")  # what the contact directory would answer
KAFKA_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / name).read_bytes())


def meta(topic: str | None, **headers: str) -> EventMeta:
    pairs = [("X-Shopify-Topic", topic)] if topic else []
    pairs += [(k.replace("_", "-"), v) for k, v in headers.items()]
    return EventMeta("shopify", 0, 7, KAFKA_TIME, None, tuple((k, v.encode()) for k, v in pairs))


def run(event: dict[str, Any], topic: str | None, transform: Any = shopify_activity,
        **headers: str) -> tuple[list[Activity], list[Link]]:
    checked = check(transform(event, meta(topic, **headers)))
    assert checked.filtered is None, checked.filtered
    for activity in checked.activities:  # every activity encodes, once its contact is resolved
        encode(activity.with_contact(RESOLVED) if activity.needs_contact else activity)
    return list(checked.activities), list(checked.links)


def one(event: dict[str, Any], topic: str | None, transform: Any = shopify_activity,
        **headers: str) -> Activity:
    activities, _ = run(event, topic, transform, **headers)
    assert len(activities) == 1, activities
    return activities[0]


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
    order = load(LEGACY) | {"financial_status": "paid"}
    activity = one(order, "orders/paid", X_Shopify_Shop_Domain="jsmith.myshopify.com")
    assert activity.name == "Order #1001 paid"
    assert activity.description == "Bob Norman paid 409.94 USD for order #1001."
    assert activity.object is not None
    assert activity.object.link == "https://jsmith.myshopify.com/admin/orders/450789469"
    assert activity.source.id == "jsmith.myshopify.com" and activity.source.name == "Shopify"
    assert activity.context is not None
    assert activity.context["Status"] == "paid" and activity.context["Payment status"] == "paid"
    assert activity.context["Items"] == 3


def test_orders_paid_whose_payload_is_not_paid_says_so_instead_of_contradicting_itself() -> None:
    # the legacy sample is "authorized": it used to read "paid" beside "Payment status: authorized"
    activity = one(load(LEGACY), "orders/paid")
    assert activity.description == (
        "Bob Norman paid 409.94 USD for order #1001. When Shopify sent this, the order's payment "
        "status was authorized.")
    assert activity.context is not None
    assert "Payment status" not in activity.context
    assert activity.context["Payment status when Shopify sent this"] == "authorized"


def test_orders_fulfilled_whose_payload_is_not_fulfilled_says_so() -> None:
    activity = one(load(TEST_NOTIFICATION), "orders/fulfilled")  # fulfillment_status "pending"
    assert activity.description == (
        "Order #9999 was fulfilled. When Shopify sent this, the order's fulfillment status was "
        "pending.")
    assert activity.context is not None
    assert activity.context["Fulfillment status when Shopify sent this"] == "pending"
    order = load(TEST_NOTIFICATION) | {"fulfillment_status": "fulfilled"}
    agreeing = one(order, "orders/fulfilled")
    assert agreeing.description == "Order #9999 was fulfilled."
    assert agreeing.context is not None and agreeing.context["Fulfillment status"] == "fulfilled"


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
    activity = one(load(LEGACY) | {"fulfillment_status": "fulfilled"}, "orders/fulfilled")
    assert activity.name == "Order #1001 fulfilled"
    assert activity.description == "Order #1001 was fulfilled."
    assert activity.actor.type == "system"
    assert activity.key == "shopify:order:450789469:fulfilled"


def test_fulfilled_with_tracking_says_shipped_with_the_carrier() -> None:
    order = load(LEGACY)
    order["fulfillments"][0].update(status="success", tracking_company="UPS")
    order["fulfillment_status"] = "fulfilled"
    activity = one(order, "orders/fulfilled")
    assert activity.name == "Order #1001 shipped"
    assert activity.description == "Order #1001 was shipped with UPS, tracking number 1Z2345."
    assert activity.context is not None
    assert activity.context["Tracking link"].startswith("http://wwwapps.ups.com/etracking/")
    assert activity.timestamp == datetime(2014, 1, 22, 20, 58, 27, tzinfo=UTC)


def test_orders_updated_reports_the_facts_dated_to_this_update_with_their_topics_keys() -> None:
    result, _ = run(load(CANCELLED_2023), "orders/updated")
    assert [a.name for a in result] == ["Order #1009 cancelled", "Order #1009 refunded"]
    cancelled, refunded = result
    assert cancelled.key == one(load(CANCELLED_2023), "orders/cancelled").key
    assert refunded.key == "shopify:refund:945108681014"
    assert refunded.description == "Order #1009 was refunded in full (1806.38 USD)."
    for activity in result:
        encode(activity)


def test_orders_updated_without_a_change_dated_to_it_only_teaches_the_directory() -> None:
    activities, links = run(load(LEGACY), "orders/updated")
    assert activities == []
    assert links == [Link("shopify:order:450789469", contact=Contact(email="bob.norman@hostmail.com")),
                     Link("shopify:customer:207119551",
                          contact=Contact(email="bob.norman@hostmail.com"))]


def test_orders_updated_with_nothing_to_show_or_learn_is_filtered_with_its_reason() -> None:
    result = shopify_activity(load(PAID_NO_CUSTOMER), meta("orders/updated"))
    assert isinstance(result, Filtered) and result.reason == "no_change_to_show"


def test_refunds_create_names_only_its_order_for_the_directory_to_resolve() -> None:
    # it used to be dead-lettered ("no customer email"); the order's own events teach its email
    activity = one(load(REFUND), "refunds/create")
    assert activity.contact == Contact(refs=("shopify:order:450789469",))
    assert activity.description == "209.00 USD of order 450789469 was refunded: it broke during shipping."
    _, taught = run(load(LEGACY), "orders/create")
    assert Link("shopify:order:450789469", contact=Contact(email="bob.norman@hostmail.com")) in taught


def test_a_refund_with_a_null_transaction_currency_still_shows_its_amount() -> None:
    # issue 9: transactions of 75.00 and 10.00 with "currency": null were shown without any amount
    activity = one(load(REFUND_NULL_CURRENCY), "refunds/create")
    assert activity.description == "85.00 USD of order 5324790137142 was refunded."
    assert activity.context is not None
    assert activity.context["Refunded amount"] == "85.00 USD"


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
    result = shopify_activity(checkout, meta("checkouts/create"))
    assert isinstance(result, Filtered) and result.reason == "already_completed"


def test_a_2026_04_checkout_with_a_token_and_no_id_is_shown() -> None:
    # issue 9: rejected as "has no id"
    activity = one(load(CHECKOUT_2026), "checkouts/create", X_Shopify_Shop_Domain="jsmith.myshopify.com")
    assert activity.name == "Checkout started"
    assert activity.key == "shopify:checkout:2a1ace52255252df566af0faaedfbfa7"
    assert activity.object is not None
    assert activity.object.id == "2a1ace52255252df566af0faaedfbfa7"
    assert activity.object.link is None  # the admin opens checkouts by id, which it has not
    assert activity.context is not None
    assert activity.context["Checkout ID"] == "2a1ace52255252df566af0faaedfbfa7"


def test_draft_order_without_any_customer_waits_for_the_directory_by_its_order_id() -> None:
    activity = one(load(PAID_NO_CUSTOMER), "orders/paid")
    assert activity.contact == Contact(refs=("shopify:order:5324830114101",))
    assert activity.actor.name == "Customer"


def test_address_phones_are_not_the_customers() -> None:
    # issue 9: an order without email took the shipping address phone (Steve Shipper's)
    activities, links = run(load(NO_EMAIL), "orders/create")
    activity = activities[0]
    assert activity.contact == Contact(refs=("shopify:order:820982911946154508",
                                             "shopify:customer:115310627314723954"))
    assert activity.description == "John Smith placed order #9999 for 403.00 USD (2 items)."
    assert "Shipper" not in orjson.dumps(activity.with_contact(RESOLVED).payload()).decode()
    # nothing names the customer, but the order belongs to them: resolving either is enough
    assert links == [Link("shopify:order:820982911946154508",
                          alias_of="shopify:customer:115310627314723954")]


def test_an_email_that_is_not_a_string_is_not_turned_into_one() -> None:
    # issue 9: "email": 123 became the contact "123"
    order = load(LEGACY) | {"email": 123}
    order["customer"]["email"] = None
    activity = one(order, "orders/create")
    assert activity.contact == Contact(refs=("shopify:order:450789469", "shopify:customer:207119551"))


def test_an_order_teaches_its_email_and_its_customers_own_email() -> None:
    _, links = run(load(TEST_NOTIFICATION), "orders/create")
    assert links == [
        Link("shopify:order:820982911946154508", contact=Contact(email="jon@doe.ca")),
        Link("shopify:customer:115310627314723954", contact=Contact(email="john@test.com"))]


def test_contact_falls_back_to_phone_then_a_configured_external_id() -> None:
    order = load(CANCELLED_2023)
    order["email"] = order["contact_email"] = order["customer"]["email"] = None
    assert one(order, "orders/create").contact.identifier() == ("phone", "+16135550135")
    order["customer"]["phone"] = None
    assert one(order, "orders/create").contact.refs == ("shopify:order:5324790137142",
                                                        "shopify:customer:6972527083830")
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
    result = check(shopify_activity(load(LEGACY), event_meta))
    assert result.activities[0].name == "Order #1001 paid"


def test_a_fixed_topic_needs_no_header() -> None:
    fixed = shopify.configure(topic="orders/create")
    assert one(load(LEGACY), None, fixed).name == "Order #1001 placed"


def test_no_topic_is_rejected_saying_where_it_was_looked_for() -> None:
    with pytest.raises(TransformError, match="X-Shopify-Topic header or an envelope"):
        shopify_activity(load(LEGACY), meta(None))


@pytest.mark.parametrize("topic", ["orders/delete", "products/create", "customers/update"])
def test_topics_an_agent_does_not_need_are_filtered(topic: str) -> None:
    assert shopify_activity(load(LEGACY), meta(topic)) == Filtered(
        "event_type_not_shown", f"shopify: topic {topic} is not shown on the timeline")


def test_a_delivery_that_is_not_an_object_says_it_is_not_a_shopify_delivery() -> None:
    with pytest.raises(TransformError, match=r"^not a Shopify delivery: expected a JSON object"):
        shopify_activity([1], meta("orders/create"))
    stripe_event = {"object": "event", "type": "charge.succeeded", "data": {"object": {}}}
    # issue 22: another vendor's payload is a misrouted topic, named as such
    with pytest.raises(TransformError, match=r"^not a Shopify delivery \(looks like a Stripe "
                                             r"event\): the topic is misrouted"):
        shopify_activity(stripe_event, meta("orders/create"))
    with pytest.raises(TransformError, match=r"^not a Shopify orders/create payload: no `id`$"):
        shopify_activity({"name": "#1001"}, meta("orders/create"))


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


def test_a_multi_currency_order_shows_every_amount_in_the_currency_the_customer_paid() -> None:
    # issue 9: line prices in the shop's USD were labelled with the order's EUR
    activity = one(load(MULTI_CURRENCY), "orders/create")
    assert activity.description == "John Smith placed order #9999 for 370.76 EUR (2 items)."
    context = activity.context
    assert context is not None
    assert context["Total"] == "370.76 EUR"
    assert [item["Price"] for key, item in context["Item description"].items()] == [
        "183.08 EUR", "183.08 EUR"]


def test_when_a_line_lacks_the_customers_currency_every_amount_is_the_shops() -> None:
    order = load(MULTI_CURRENCY)
    del order["line_items"][1]["price_set"]
    context = one(order, "orders/create").context
    assert context is not None
    assert context["Total"] == "403.00 USD"
    assert context["Item description"]["Item 1"]["Price"] == "199.00 USD"


def test_configure_refuses_options_that_cannot_work() -> None:
    with pytest.raises(ValueError, match="must contain"):
        shopify.configure(external_id="shopify-customer")
    with pytest.raises(ValueError, match="known topics are"):
        shopify.configure(topic="orders/exploded")
    with pytest.raises(TypeError):
        shopify.configure(topic_feild="kind")
