"""The built-in ``payments`` transform: every event type, failure reasons, filtering, bad events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from transforms import Activity, Contact, EventMeta, Filtered, TransformError, encode
from transforms.payments import payment_activity

META = EventMeta("payments", 0, 9, datetime(2024, 5, 1, 23, 59, tzinfo=UTC), b"cus_rachel")


def event(type: str = "payment.succeeded", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "evt_9",
        "type": type,
        "occurred_at": "2024-05-01T09:02:35Z",
        "customer": {"id": "cus_rachel", "name": "Rachel Green", "email": "rachel@example.com",
                     "phone": "+15550100"},
        "source": {"name": "Stripe", "id": "acct_1"},
        "payment": {"id": "pi_1", "order_id": "ord_1", "order_number": "1001", "amount": "50.00",
                    "currency": "USD", "method": "card", "card_brand": "visa",
                    "card_last4": "4242", "link": "https://pay.example/pi_1"},
    }
    base.update(changes)
    return base


def failed(**payment: Any) -> dict[str, Any]:
    ev = event("payment.failed")
    ev["payment"].update(payment)
    return ev


def transform(ev: dict[str, Any]) -> Activity:
    activity = payment_activity(orjson.loads(orjson.dumps(ev)), META)
    assert isinstance(activity, Activity)
    encode(activity)
    return activity


def test_payment_succeeded() -> None:
    activity = transform(event())
    assert activity.name == "Payment succeeded"
    assert activity.description == (
        "Payment of 50.00 USD for order #1001 succeeded (Visa ending in 4242)."
    )
    assert activity.context == {
        "Amount": "50.00 USD", "Status": "succeeded", "Order number": "#1001",
        "Payment method": "Visa ending in 4242", "Payment ID": "pi_1",
    }
    assert activity.actor.type == "contact"
    assert activity.contact == Contact(email="rachel@example.com", phone="+15550100")
    assert orjson.loads(encode(activity))["contact"] == {"email": "rachel@example.com"}
    assert activity.key == "payments:evt_9"
    assert activity.object is not None
    assert (activity.object.type, activity.object.id, activity.object.link) == (
        "payment", "pi_1", "https://pay.example/pi_1")
    assert (activity.source.name, activity.source.id) == ("Stripe", "acct_1")


def test_payment_failed_explains_the_reason_in_plain_words() -> None:
    activity = transform(failed(failure_code="insufficient_funds",
                                failure_message="Your card has insufficient funds."))
    assert activity.name == "Payment failed"
    assert activity.description == (
        "Payment of 50.00 USD for order #1001 failed: the card has insufficient funds."
    )
    assert activity.actor.type == "contact"
    assert activity.context is not None
    assert activity.context["Failure reason"] == "The card has insufficient funds"
    assert activity.context["Failure code"] == "insufficient_funds"
    assert activity.context["Processor message"] == "Your card has insufficient funds."
    assert activity.context["Status"] == "failed"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("card_declined", "the card was declined"),
        ("insufficient_funds", "the card has insufficient funds"),
        ("expired_card", "the card has expired"),
        ("incorrect_cvc", "the card's security code (CVC) is incorrect"),
        ("processing_error", "an error occurred while processing the card; trying again usually works"),
    ],
)
def test_common_failure_codes_become_sentences(code: str, reason: str) -> None:
    activity = transform(failed(failure_code=code))
    assert activity.description == f"Payment of 50.00 USD for order #1001 failed: {reason}."


def test_unknown_failure_code_is_shown_as_it_came() -> None:
    activity = transform(failed(failure_code="issuer_on_vacation"))
    assert activity.description == "Payment of 50.00 USD for order #1001 failed: issuer_on_vacation."


def test_unknown_failure_code_with_a_processor_message_shows_the_message() -> None:
    activity = transform(failed(failure_code="x_42", failure_message="Bank offline."))
    assert activity.description == "Payment of 50.00 USD for order #1001 failed: Bank offline."
    assert activity.context is not None
    assert activity.context["Failure code"] == "x_42"


def test_failure_without_any_reason_still_reads_as_a_sentence() -> None:
    ev = failed()
    del ev["payment"]["order_number"], ev["payment"]["order_id"]
    assert transform(ev).description == "Payment of 50.00 USD failed."


def test_payment_refunded_in_part_is_done_by_the_shop() -> None:
    activity = transform(event("payment.refunded",
                               refund={"amount": "8", "reason": "socks arrived with a hole"}))
    assert activity.name == "Payment partly refunded"
    assert activity.description == (
        "8.00 USD of the 50.00 USD payment for order #1001 was refunded: socks arrived with a hole."
    )
    assert (activity.actor.type, activity.actor.name, activity.actor.id) == (
        "system", "Stripe", "acct_1")
    assert activity.context is not None
    assert activity.context["Refund amount"] == "8.00 USD"
    assert activity.context["Refund reason"] == "socks arrived with a hole"
    assert activity.context["Status"] == "partly refunded"


def test_payment_refunded_in_full_defaults_to_the_whole_amount() -> None:
    activity = transform(event("payment.refunded", refund={"reason": "requested_by_customer"}))
    assert activity.name == "Payment refunded"
    assert activity.description == (
        "The 50.00 USD payment for order #1001 was refunded in full: requested by customer."
    )
    assert activity.context is not None
    assert activity.context["Refund amount"] == "50.00 USD"
    assert activity.context["Refund reason"] == "requested by customer"


def test_payment_disputed_shows_reason_amount_and_deadline() -> None:
    activity = transform(event("payment.disputed", dispute={
        "reason": "product_not_received", "amount": "50.00",
        "evidence_due_by": "2024-05-23T23:59:59Z"}))
    assert activity.name == "Payment disputed"
    assert activity.description == (
        "Rachel Green disputed the 50.00 USD payment for order #1001 with their bank. "
        "Reason: the customer says they did not receive the order. "
        "Evidence is due by 2024-05-23 23:59 UTC."
    )
    assert activity.actor.type == "contact"
    assert activity.context is not None
    assert activity.context["Dispute reason"] == "The customer says they did not receive the order"
    assert activity.context["Disputed amount"] == "50.00 USD"
    assert activity.context["Evidence due by"] == "2024-05-23 23:59 UTC"


def test_dispute_of_part_of_a_payment_with_an_unknown_reason() -> None:
    activity = transform(event("payment.disputed", dispute={"reason": "bank_says_so",
                                                            "amount": 20}))
    assert activity.description == (
        "Rachel Green disputed 20.00 USD of the 50.00 USD payment for order #1001 with their bank."
        " Reason: bank_says_so."
    )


@pytest.mark.parametrize("type", ["payment.created", "charge.succeeded", "payout.paid"])
def test_unknown_types_are_filtered_with_their_reason(type: str) -> None:
    assert payment_activity(event(type), META) == Filtered(
        "event_type_not_shown", f"payments: {type} is not shown on the timeline")


def test_a_negative_amount_never_succeeded() -> None:
    ev = event()
    ev["payment"]["amount"] = "-50.00"
    with pytest.raises(TransformError, match=r"^payment.amount: '-50.00' is negative"):
        payment_activity(ev, META)


def test_amounts_use_the_currency_exponent() -> None:
    ev = event()
    ev["payment"].update(amount="12.5", currency="kwd", card_brand=None, card_last4=None,
                         method="bank_transfer")
    activity = transform(ev)
    assert activity.description == (
        "Payment of 12.500 KWD for order #1001 succeeded (bank transfer)."
    )


def test_event_without_customer_identifiers_is_refused() -> None:
    with pytest.raises(TransformError) as caught:
        payment_activity(event(customer={"id": "cus_1", "name": "Rachel"}), META)
    assert str(caught.value) == "event has no customer email, phone or external id"


def test_event_with_no_time_at_all_is_refused() -> None:
    no_time = EventMeta("payments", 0, 9, None, None)
    with pytest.raises(TransformError, match="no occurred_at"):
        payment_activity(event(occurred_at=None), no_time)


def test_ids_above_2_pow_53_stay_exact() -> None:
    raw = (b'{"event_id": 18446744073709551615, "type": "payment.succeeded",'
           b' "occurred_at": "2024-05-01T09:00:00Z", "customer": {"email": "r@example.com"},'
           b' "payment": {"id": 9007199254740993, "order_id": 9007199254740995,'
           b' "amount": "1", "currency": "USD"}}')
    activity = payment_activity(orjson.loads(raw), META)
    assert activity is not None
    assert activity.key == "payments:18446744073709551615"
    assert activity.object is not None and activity.object.id == "9007199254740993"
    assert activity.context is not None
    assert activity.context["Order number"] == "#9007199254740995"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", None, "payment.succeeded event has no payment.amount"),
        ("amount", True, "payment.amount: expected a decimal string or number"),
        ("amount", "NaN", "payment.amount: 'NaN' is not a finite amount"),
        ("currency", None, "payment.succeeded event has no payment.currency"),
        ("id", None, "payment.succeeded event has no payment.id"),
        ("id", 1.5, "payment.id: expected a string or integer id"),
    ],
)
def test_bad_payments_are_refused_with_the_field_that_is_wrong(
    field: str, value: Any, message: str
) -> None:
    ev = event()
    ev["payment"][field] = value
    with pytest.raises(TransformError, match=f"^{message}"):
        payment_activity(ev, META)


def test_bad_dispute_deadline_is_refused() -> None:
    with pytest.raises(TransformError, match=r"^dispute\.evidence_due_by: 'soon'"):
        payment_activity(event("payment.disputed", dispute={"evidence_due_by": "soon"}), META)
