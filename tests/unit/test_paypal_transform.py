"""The built-in ``paypal`` transform on webhook events in PayPal's documented shapes
(tests/fixtures/vendors/paypal, sources in its MANIFEST.md): what each becomes, and which ids
chain a capture, a refund or a dispute to the payer's email."""

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
    paypal,
)
from transforms.paypal import paypal_activity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "paypal"
META = EventMeta("paypal.webhooks", 0, 1, datetime(2024, 6, 1, tzinfo=UTC), None)
RESOLVED = Contact(email="rachel@example.com")
ORDER, CAPTURE = "paypal:order:5O190127TN364715T", "paypal:capture:2GG279541U471931P"


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / f"{name}_built.json").read_bytes())


def run(event: Any) -> tuple[list[Activity], list[Link]]:
    checked = check(paypal_activity(event, META))
    assert checked.filtered is None, checked.filtered
    for activity in checked.activities:
        encode(activity.with_contact(RESOLVED) if activity.needs_contact else activity)
    return list(checked.activities), list(checked.links)


@pytest.mark.parametrize(("fixture", "name", "description", "key"), [
    ("checkout-order-approved", "PayPal checkout approved",
     "John Doe approved the PayPal payment of 100.00 USD; it has not been captured yet.",
     "paypal:order:5O190127TN364715T:approved"),
    ("authorization-created", "Payment authorised",
     "A PayPal payment of 100.00 USD was authorised; it has not been captured yet.",
     "paypal:authorization:0VF52814937998046:created"),
    ("authorization-voided", "Authorisation voided",
     "The PayPal authorisation of 100.00 USD was voided: no money will be taken.",
     "paypal:authorization:0VF52814937998046:voided"),
    ("capture-completed", "Payment completed", "A PayPal payment of 100.00 USD was completed.",
     "paypal:capture:2GG279541U471931P:completed"),
    ("capture-denied", "Payment denied",
     "PayPal denied the payment of 45.50 USD: the card has insufficient funds. The buyer can pay "
     "another way.", "paypal:capture:8MC585209K746392H:denied"),
    ("capture-refunded", "Payment refunded",
     "25.00 USD of the PayPal payment was refunded. The seller's note to the buyer: Item returned.",
     "paypal:refund:1JU08902781691411:completed"),
    ("dispute-created-inquiry", "PayPal inquiry",
     "The buyer opened a PayPal inquiry over 100.00 USD. This is not a chargeback: the buyer and "
     "the seller can still settle it. Reason: the buyer says they did not receive the order. A "
     "response is due by 2024-03-22 09:14 UTC.", "paypal:dispute:PP-D-27803:created"),
    ("dispute-resolved", "Dispute resolved",
     "The PayPal dispute over 100.00 USD was resolved in the seller's favour.",
     "paypal:dispute:PP-D-27803:resolved"),
])
def test_each_event_type_reads_as_what_happened_keyed_by_the_fact(
        fixture: str, name: str, description: str, key: str) -> None:
    [activity], _ = run(load(fixture))
    assert (activity.name, activity.description, activity.key) == (name, description, key)


def test_the_order_approval_names_the_payer_and_teaches_the_order_and_payer_id() -> None:
    [activity], links = run(load("checkout-order-approved"))
    assert activity.contact == Contact(email="buyer@example.com")
    assert activity.actor.id == "QYR5Z8XDVJNXQ" and activity.actor.name == "John Doe"
    buyer = Contact(email="buyer@example.com")
    assert links == [Link(ORDER, contact=buyer), Link("paypal:payer:QYR5Z8XDVJNXQ", contact=buyer)]


def test_a_capture_names_its_order_and_teaches_that_it_belongs_to_it() -> None:
    [activity], links = run(load("capture-completed"))
    assert activity.contact == Contact(refs=(CAPTURE, ORDER))
    assert links == [Link(CAPTURE, alias_of=ORDER)]
    # without supplementary_data, the capture's "up" link still names its order
    event = load("capture-completed")
    del event["resource"]["supplementary_data"]
    [again], links = run(event)
    assert again.contact == Contact(refs=(CAPTURE, ORDER)) and links == [Link(CAPTURE, alias_of=ORDER)]


def test_a_refund_names_its_capture_from_its_up_link() -> None:
    [activity], links = run(load("capture-refunded"))
    assert activity.contact == Contact(refs=("paypal:refund:1JU08902781691411", CAPTURE))
    assert links == [Link("paypal:refund:1JU08902781691411", alias_of=CAPTURE)]
    assert activity.actor.type == "system"


def test_a_dispute_names_the_capture_it_disputes() -> None:
    [activity], links = run(load("dispute-created-inquiry"))
    assert activity.contact.refs[0] == CAPTURE
    assert links == [Link("paypal:dispute:PP-D-27803", alias_of=CAPTURE)]
    assert activity.context is not None
    assert activity.context["Dispute reason code"] == "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"


def test_a_dispute_past_the_inquiry_stage_is_called_a_dispute() -> None:
    event = load("dispute-created-inquiry")
    event["resource"].update(dispute_life_cycle_stage="CHARGEBACK", reason="UNAUTHORISED")
    [activity], _ = run(event)
    assert activity.name == "Payment disputed"
    assert activity.description == (
        "The buyer opened a PayPal dispute over 100.00 USD, at the stage of a chargeback through "
        "the buyer's card issuer. Reason: the buyer says they did not authorise this payment. A "
        "response is due by 2024-03-22 09:14 UTC.")


def test_a_denied_capture_without_a_processor_code_does_not_invent_a_reason() -> None:
    event = load("capture-denied")
    del event["resource"]["processor_response"]
    [activity], _ = run(event)
    assert activity.description == "PayPal denied the payment of 45.50 USD (PayPal did not say why)."
    assert activity.context is not None and "Failure reason" not in activity.context


def test_the_time_is_the_resources_own_update_time_not_the_delivery() -> None:
    [refund], _ = run(load("capture-refunded"))
    assert refund.timestamp == datetime(2024, 3, 9, 23, 41, 27, tzinfo=UTC)  # -08:00 in the payload
    [resolved], _ = run(load("dispute-resolved"))
    assert resolved.timestamp == datetime(2024, 3, 20, 16, 2, 40, tzinfo=UTC)


def test_amounts_are_paypals_decimal_strings_kept_exact() -> None:
    event = load("capture-completed")
    event["resource"]["amount"] = {"currency_code": "JPY", "value": "1234567890123456789"}
    [activity], _ = run(event)
    assert activity.description == "A PayPal payment of 1234567890123456789 JPY was completed."
    event["resource"]["amount"] = {"currency_code": "USD", "value": 100.1}
    with pytest.raises(TransformError, match=r"amount.value must be a decimal string"):
        paypal_activity(event, META)


def test_the_payee_is_the_merchant_never_the_contact() -> None:
    [activity], links = run(load("capture-completed"))
    assert "merchant@example.com" not in str(activity) + str(links)


def test_event_types_not_shown_are_filtered() -> None:
    event = load("capture-completed") | {"event_type": "PAYMENT.CAPTURE.PENDING"}
    assert paypal_activity(event, META) == Filtered(
        "event_type_not_shown", "paypal: PAYMENT.CAPTURE.PENDING is not shown on the timeline")


@pytest.mark.parametrize(("event", "message"), [
    ([1], r"^not a PayPal webhook: expected a JSON object \(got array\)"),
    ({"id": "WH-1", "resource": {}}, r"^not a PayPal webhook: no `event_type`"),
    ({"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {"status": "x"}},
     r"has no resource.id"),
])
def test_what_cannot_be_read_says_what(event: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        paypal_activity(event, META)


def test_configure_names_the_source() -> None:
    [activity], _ = run(load("capture-completed"))
    assert activity.source.name == "PayPal"
    configured = paypal.configure(source_name="PayPal EU")
    assert check(configured(load("capture-completed"), META)).activities[0].source.name == "PayPal EU"
    with pytest.raises(ValueError, match="must not be empty"):
        paypal.configure(source_name=" ")
