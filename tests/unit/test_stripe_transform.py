"""The built-in ``stripe`` transform on real Stripe events of several API versions
(tests/fixtures/vendors/stripe, sources in its MANIFEST.md): what each becomes, and why not."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from transforms import Activity, EventMeta, TransformError, encode, money, stripe
from transforms.stripe import stripe_activity, stripe_amount

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "stripe"
META = EventMeta("stripe", 0, 3, datetime(2024, 5, 1, tzinfo=UTC), None)
BY_CUSTOMER_ID = stripe.configure(external_id="stripe:{customer_id}")


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / f"evt_{name}.json").read_bytes())


def one(event: dict[str, Any], transform: Any = stripe_activity) -> Activity:
    result = transform(event, META)
    assert isinstance(result, Activity), result
    encode(result)
    return result


# Every fixture, with and without the customer-id fallback: (name, outcome by default, with it).
OUTCOMES = [
    ("checkout.session.completed_2020-03-02", "Checkout completed", "Checkout completed"),
    ("payment_intent.payment_failed_2020-08-27", "Payment failed", "Payment failed"),
    ("payment_intent.payment_failed_2025-04-30.basil", "no email", "Payment failed"),
    ("payment_intent.succeeded_2022-11-15", "no email", "Payment succeeded"),
    ("charge.refunded_2020-03-02", "no email", "Payment refunded"),
    ("charge.refunded_legacy-2012", "no email", "Payment refunded"),
    ("charge.failed_legacy-2012", "no email", "Payment failed"),
    ("invoice.payment_failed_legacy-2012", "no email", "Invoice payment failed"),
    ("charge.succeeded_2020-08-27", "no customer", "no customer"),
    ("charge.dispute.created_2020-03-02", "no customer", "no customer"),
    ("charge.dispute.created_2025-04-30.basil", "no customer", "no customer"),
    ("payment_intent.canceled_2025-05-28.basil", None, None),
]


@pytest.mark.parametrize(("fixture", "default", "configured"), OUTCOMES)
def test_every_fixture_becomes_an_activity_or_a_reason(fixture: str, default: str | None,
                                                       configured: str | None) -> None:
    for transform, expected in ((stripe_activity, default), (BY_CUSTOMER_ID, configured)):
        event = load(fixture)
        if expected is None:
            assert transform(event, META) is None
        elif expected == "no email":
            with pytest.raises(TransformError, match=r"external_id='stripe:\{customer_id\}'"):
                transform(event, META)
        elif expected == "no customer":
            with pytest.raises(TransformError, match="Stripe sent no customer id either"):
                transform(event, META)
        else:
            activity = one(event, transform)
            assert activity.name == expected
            assert activity.key == f"stripe:{event['id']}"


def test_checkout_completed_in_live_mode_links_the_live_dashboard() -> None:
    activity = one(load("checkout.session.completed_2020-03-02"))
    assert activity.description == "Copple completed checkout and paid 9.99 EUR."
    assert activity.contact.identifier() == ("email", "billz@supabase.io")
    assert activity.actor.id == "cus_IhGfebO16cMIGN" and activity.actor.name == "Copple"
    assert activity.object is not None
    assert activity.object.link == "https://dashboard.stripe.com/payments/pi_1IqxJOJDPojXS6LN9uOebAea"
    assert activity.timestamp == datetime(2021, 4, 29, 11, 57, 10, tzinfo=UTC)
    assert activity.key == "stripe:evt_T8nSaZqtPudigUMqnnbY4D4v"


def test_failed_payment_explains_the_decline_in_words_and_keeps_the_codes() -> None:
    activity = one(load("payment_intent.payment_failed_2025-04-30.basil"), BY_CUSTOMER_ID)
    assert activity.description == (
        "Payment of 46.20 EUR failed: the bank asked the customer to confirm the payment "
        "(3-D Secure) and it was not confirmed.")
    assert activity.contact.identifier() == ("unique_external_id", "stripe:cus_SR8o2vcGRkVb6v")
    assert activity.object is not None
    assert activity.object.link == (
        "https://dashboard.stripe.com/test/payments/pi_3RWGX8Q8iJWBZFaM0ZSHRgfm")
    context = activity.context
    assert context is not None
    assert context["Payment method"] == "Visa ending in 3184"
    assert context["Failure code"] == "authentication_required"
    assert context["Decline code"] == "authentication_not_handled"
    assert context["Processor message"].startswith("This payment required an authentication")


def test_pre_2022_payment_intent_finds_the_customer_in_its_embedded_charges() -> None:
    activity = one(load("payment_intent.payment_failed_2020-08-27"))
    assert activity.contact.identifier() == ("email", "julienbourdeau@hey.com")
    assert activity.actor.name == "Testing Stripe"
    # the embedded charge's outcome says "approved": it must not be shown as the failure reason
    assert activity.description == "Payment of 99.95 USD failed."
    assert activity.context is not None
    assert activity.context["Payment method"] == "Visa ending in 4242"


def test_succeeded_payment_shows_the_amount_received() -> None:
    activity = one(load("payment_intent.succeeded_2022-11-15"), BY_CUSTOMER_ID)
    assert activity.description == "Payment of 38.97 USD succeeded."
    assert activity.actor.type == "contact"
    assert activity.context is not None
    assert activity.context["Description"] == "Hooli - Invoice HOO-CAAB-028-004"


def test_full_refund_is_the_processors_activity_linked_by_its_payment_intent() -> None:
    activity = one(load("charge.refunded_2020-03-02"), BY_CUSTOMER_ID)
    assert activity.description == "The 25.00 USD payment was refunded in full."
    assert activity.actor.type == "system" and activity.actor.name == "Stripe"
    assert activity.object is not None
    # the charge is a live one (its own livemode), so the link is the live dashboard
    assert activity.object.link == "https://dashboard.stripe.com/payments/pi_3Kl36gJDPojXS6LN02fQVtKR"
    assert activity.context is not None
    assert activity.context["Payment method"] == "Mastercard ending in 7572"


def test_partial_refund_says_how_much_of_what() -> None:
    event = load("charge.refunded_2020-03-02")
    event["data"]["object"]["amount_refunded"] = 1000
    event["data"]["object"]["refunds"]["data"][0]["reason"] = "requested_by_customer"
    activity = one(event, BY_CUSTOMER_ID)
    assert activity.name == "Payment partly refunded"
    assert activity.description == (
        "10.00 USD of the 25.00 USD payment was refunded: requested by customer.")


def test_2012_events_without_api_version_still_read() -> None:
    failed = one(load("charge.failed_legacy-2012"), BY_CUSTOMER_ID)
    assert failed.description == "Payment of 10.00 USD failed."
    assert failed.context is not None and failed.context["Payment method"] == "Visa ending in 4242"
    assert failed.object is not None
    assert failed.object.link == "https://dashboard.stripe.com/test/payments/ch_00000000000000"
    invoice = one(load("invoice.payment_failed_legacy-2012"), BY_CUSTOMER_ID)
    assert invoice.description == (
        "Payment of 10.00 USD for an invoice failed. Stripe will try again on 2012-04-10 17:14 UTC.")
    assert invoice.object is not None
    assert invoice.object.link == "https://dashboard.stripe.com/test/invoices/in_00000000000000"


def test_dispute_becomes_an_activity_when_the_evidence_names_the_customer() -> None:
    event = load("charge.dispute.created_2025-04-30.basil")
    event["data"]["object"]["evidence"]["customer_email_address"] = "rachel@example.com"
    activity = one(event)
    assert activity.name == "Payment disputed"
    assert activity.description == (
        "The customer disputed the 1.00 USD payment with their bank. Reason: the cardholder says "
        "they did not make this payment. Evidence is due by 2025-06-14 23:59 UTC.")
    assert activity.object is not None
    assert activity.object.link == (
        "https://dashboard.stripe.com/test/payments/pi_3RWXidQ8iJWBZFaM0hwfe7LL")
    assert activity.context is not None
    assert activity.context["Dispute link"] == (
        "https://dashboard.stripe.com/test/disputes/dp_1RWXieQ8iJWBZFaM572opwWo")


def test_checkout_in_a_zero_decimal_currency_is_not_divided_by_100() -> None:
    event = load("checkout.session.completed_2020-03-02")
    event["data"]["object"].update(currency="jpy", amount_total=800)
    assert one(event).description == "Copple completed checkout and paid 800 JPY."


@pytest.mark.parametrize(("minor", "currency", "shown"), [
    (3897, "usd", "38.97 USD"),
    (800, "jpy", "800 JPY"),
    (1500, "kwd", "1.500 KWD"),
    (500, "isk", "5 ISK"),  # ISO: zero-decimal; Stripe's API: two decimals, so 500 is 5 krónur
    (500, "huf", "5.00 HUF"),  # Stripe charges HUF with two decimals
    (500, "twd", "5.00 TWD"),
    (5000, "ugx", "5000 UGX"),
    (5000, "mga", "5000.00 MGA"),  # Stripe: zero-decimal; shown padded to ISO's two digits
])
def test_minor_units_use_stripes_exponent(minor: int, currency: str, shown: str) -> None:
    assert money(stripe_amount(minor, currency), currency) == shown


def test_stripe_amount_is_exact() -> None:
    assert stripe_amount(2**63 - 1, "usd") == Decimal("92233720368547758.07")


def test_an_event_without_an_id_is_rejected() -> None:
    event = load("checkout.session.completed_2020-03-02")
    del event["id"]
    with pytest.raises(TransformError, match="has no id"):
        stripe_activity(event, META)


def test_an_amount_that_is_not_an_integer_is_rejected_with_the_field() -> None:
    event = load("payment_intent.payment_failed_2020-08-27")
    event["data"]["object"]["amount"] = "99.95"
    with pytest.raises(TransformError, match=r"data.object.amount must be an integer"):
        stripe_activity(event, META)


def test_configure_refuses_a_template_without_the_customer_id() -> None:
    with pytest.raises(ValueError, match="must contain"):
        stripe.configure(external_id="stripe-customer")
