"""The built-in ``commercetools`` transform on Subscription payloads in commercetools' documented
shapes (tests/fixtures/vendors/commercetools, sources in its MANIFEST.md): what each message
becomes, and how a payment's messages reach the order's customer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from transforms import (
    FILTER_REASONS,
    Activity,
    Contact,
    EventMeta,
    Filtered,
    Link,
    TransformError,
    check,
    commercetools,
    encode,
)
from transforms.commercetools import commercetools_activity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "commercetools"
META = EventMeta("ct.messages", 0, 1, datetime(2024, 6, 1, tzinfo=UTC), None)
RESOLVED = Contact(email="rachel@example.com")
ORDER = "commercetools:order:92f5a867-bf19-47ab-982c-6720a03a3921"
PAYMENT = "commercetools:payment:776f9240-09e1-4416-a34f-32fa80f0333f"
CUSTOMER = "commercetools:customer:3cdcdcc8-80c5-41bb-abb5-ac8772c9cc24"


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / f"{name}_built.json").read_bytes())


def run(event: Any, transform: Any = commercetools_activity) -> tuple[list[Activity], list[Link]]:
    checked = check(transform(event, META))
    assert checked.filtered is None, checked.filtered
    for activity in checked.activities:
        encode(activity.with_contact(RESOLVED) if activity.needs_contact else activity)
    return list(checked.activities), list(checked.links)


@pytest.mark.parametrize(("fixture", "name", "description"), [
    ("OrderCreated", "Order 10042 placed", "John Doe placed order 10042 for 10.00 EUR (1 item)."),
    ("OrderStateChanged_confirmed", "Order 10042 confirmed", "Order 10042 was confirmed."),
    ("OrderPaymentStateChanged_paid", "Order 10042 paid", "Order 10042 is paid."),
    ("ReturnInfoAdded", "Order 10042 return registered",
     "A return of 1 item of order 10042 was registered on 2017-01-18."),
    ("DeliveryAdded", "Order 10042 delivery created",
     "A delivery of 1 item was created for order 10042 with tracking number 1Z999AA10123456784 "
     "(TNT)."),
    ("ParcelAddedToDelivery", "Order 10042 parcel added",
     "A parcel with tracking number 1Z999AA10123456795 (TNT) was added to a delivery of order "
     "10042."),
    ("PaymentTransactionAdded_charge-failure", "Payment failed",
     "Payment of 10.00 USD failed: commercetools does not say why; the payment service "
     "provider's record of the interaction has the reason."),
    ("PaymentTransactionStateChanged_success", "Payment transaction succeeded",
     "The payment's transaction 14748fe6-7f77-456a-96c8-913b1e4bbc9a succeeded."),
])
def test_each_message_reads_as_what_happened_keyed_by_the_message(
        fixture: str, name: str, description: str) -> None:
    event = load(fixture)
    [activity], _ = run(event)
    assert (activity.name, activity.description) == (name, description)
    assert activity.key == f"commercetools:{event['id']}"
    assert activity.timestamp <= datetime(2024, 1, 1, tzinfo=UTC)  # the payload's, not Kafka's


def test_an_order_names_its_customer_and_teaches_its_payments_and_customer() -> None:
    [activity], links = run(load("OrderCreated"))
    john = Contact(email="johndoe@example.com")
    assert activity.contact == john
    assert links == [Link(ORDER, contact=john), Link(CUSTOMER, contact=john),
                     Link(PAYMENT, alias_of=ORDER)]
    assert activity.context is not None
    assert activity.context["Item description"] == {"Item 1": {
        "Item name": "MyProduct", "Quantity": 1, "Price": "10.00 EUR", "SKU": "some-sku-123"}}


def test_an_order_without_an_email_names_its_customer() -> None:
    event = load("OrderCreated")
    del event["order"]["customerEmail"]
    [activity], links = run(event)
    assert activity.contact == Contact(refs=(ORDER, CUSTOMER))
    assert Link(ORDER, alias_of=CUSTOMER) in links


def test_payment_messages_name_only_the_payment() -> None:
    [activity], links = run(load("PaymentTransactionAdded_charge-failure"))
    assert activity.contact == Contact(refs=(PAYMENT,)) and links == []
    assert activity.timestamp == datetime(2015, 10, 20, 8, 54, 24, tzinfo=UTC)  # its own timestamp


def test_payment_created_and_order_payment_added_only_teach() -> None:
    assert run(load("PaymentCreated")) == ([], [Link(PAYMENT, alias_of=CUSTOMER)])
    assert run(load("OrderPaymentAdded")) == ([], [Link(PAYMENT, alias_of=ORDER)])
    assert run(load("CustomerCreated")) == ([], [Link(CUSTOMER, contact=Contact(
        email="johndoe@example.com"))])


def test_a_message_too_large_for_its_destination_is_an_honest_counted_outcome() -> None:
    result = commercetools_activity(load("OrderCreated_payloadNotIncluded"), META)
    assert result == Filtered(
        "payload_not_included",
        "commercetools: OrderCreated message 5c08bac6-4dbe-4f71-9c95-6e3d8a1b0f44 of order "
        "0b5c6f7e-9a21-4d3e-8c47-1e2f3a4b5c6d arrived without its payload (Payload too large.); "
        "read it from the Messages API")
    assert "payload_not_included" in FILTER_REASONS


def test_change_notifications_are_filtered_with_what_to_do() -> None:
    result = commercetools_activity(load("ResourceUpdated"), META)
    assert isinstance(result, Filtered) and result.reason == "event_type_not_shown"
    assert "subscribe the Subscription to messages" in result.detail


@pytest.mark.parametrize(("state", "shown"), [("Initial", False), ("Pending", False),
                                              ("Success", True)])
def test_only_settled_transactions_are_shown(state: str, shown: bool) -> None:
    event = load("PaymentTransactionAdded_charge-failure")
    event["transaction"]["state"] = state
    result = commercetools_activity(event, META)
    assert (not isinstance(result, Filtered)) is shown
    if shown:
        assert check(result).activities[0].name == "Payment succeeded"


def test_money_is_exact_at_any_precision() -> None:
    event = load("OrderCreated")
    event["order"]["totalPrice"] = {"type": "highPrecision", "currencyCode": "EUR",
                                    "centAmount": 1000, "preciseAmount": 123456789, "fractionDigits": 7}
    [activity], _ = run(event)
    assert activity.context is not None and activity.context["Total"] == "12.3456789 EUR"
    event["order"]["totalPrice"] = {"currencyCode": "EUR", "centAmount": 10.5, "fractionDigits": 2}
    with pytest.raises(TransformError, match=r"totalPrice.centAmount must be a non-negative integer"):
        commercetools_activity(event, META)


def test_the_locale_option_picks_the_product_name_and_links_need_the_merchant_center() -> None:
    event = load("OrderCreated")
    event["order"]["lineItems"][0]["name"] = {"en": "MyProduct", "de": "MeinProdukt"}
    configured = commercetools.configure(
        locale="de", merchant_center_url="https://mc.europe-west1.gcp.commercetools.com")
    [activity], _ = run(event, configured)
    assert activity.context is not None
    assert activity.context["Item description"]["Item 1"]["Item name"] == "MeinProdukt"
    assert activity.object is not None and activity.object.link == (
        "https://mc.europe-west1.gcp.commercetools.com/shop-prod-7/orders/"
        "92f5a867-bf19-47ab-982c-6720a03a3921")
    [plain], _ = run(load("OrderCreated"))
    assert plain.object is not None and plain.object.link is None
    with pytest.raises(ValueError, match="https://"):
        commercetools.configure(merchant_center_url="mc.example")


@pytest.mark.parametrize(("event", "message"), [
    (None, r"^not a commercetools message: expected a JSON object \(got null\)"),
    ({"type": "OrderCreated"}, r"^not a commercetools message: no `type`/`resource`"),
    ({"type": "OrderCreated", "resource": {"typeId": "order", "id": "o"}, "id": "m",
      "createdAt": "2024-01-01T00:00:00Z"}, r"has no order"),
])
def test_what_cannot_be_read_says_what(event: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        commercetools_activity(event, META)
