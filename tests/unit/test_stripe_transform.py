"""The built-in ``stripe`` transform on real Stripe events of several API versions
(tests/fixtures/vendors/stripe, sources in its MANIFEST.md): what each becomes, and why not."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
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
    money,
    stripe,
)
from transforms.stripe import stripe_activity, stripe_amount

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "stripe"
META = EventMeta("stripe", 0, 3, datetime(2024, 5, 1, tzinfo=UTC), None)
BY_CUSTOMER_ID = stripe.configure(external_id="stripe:{customer_id}")
RESOLVED = Contact(email="rachel@example.com")  # what the contact directory would answer


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / f"evt_{name}.json").read_bytes())


def run(event: dict[str, Any], transform: Any = stripe_activity) -> tuple[list[Activity], list[Link]]:
    checked = check(transform(event, META))
    assert checked.filtered is None, checked.filtered
    for activity in checked.activities:  # every activity encodes, once its contact is resolved
        encode(activity.with_contact(RESOLVED) if activity.needs_contact else activity)
    return list(checked.activities), list(checked.links)


def one(event: dict[str, Any], transform: Any = stripe_activity) -> Activity:
    activities, _ = run(event, transform)
    assert len(activities) == 1, activities
    return activities[0]


# Every fixture: (name, the activity's name or the outcome, the contact: an identifier or refs).
OUTCOMES = [
    ("checkout.session.completed_2020-03-02", "Checkout completed", ("email", "billz@supabase.io")),
    ("payment_intent.payment_failed_2020-08-27", "Payment failed",
     ("email", "julienbourdeau@hey.com")),
    ("payment_intent.payment_failed_2025-04-30.basil", "Payment failed",
     ("stripe:cus_SR8o2vcGRkVb6v", "stripe:pi_3RWGX8Q8iJWBZFaM0ZSHRgfm",
      "stripe:ch_3RWGX8Q8iJWBZFaM0IWum1a6")),
    ("payment_intent.succeeded_2022-11-15", "Payment succeeded",
     ("stripe:cus_Rw5Qso78STEap3", "stripe:pi_3R3dvoQ8iJWBZFaM0uu1G1rx",
      "stripe:ch_3R3dvoQ8iJWBZFaM0NhAbztB")),
    ("charge.refunded_2020-03-02", "Payment refunded",
     ("stripe:cus_J7Mkgr8mvbl1eK", "stripe:ch_3Kl36gJDPojXS6LN0DCM4A8l",
      "stripe:pi_3Kl36gJDPojXS6LN02fQVtKR", "stripe:in_1KJdKkJDPojXS6LNSwSWkZSN")),
    ("charge.refunded_second-partial_built-from-2020-03-02", "Payment partly refunded",
     ("stripe:cus_J7Mkgr8mvbl1eK", "stripe:ch_3Kl36gJDPojXS6LN0DCM4A8l",
      "stripe:pi_3Kl36gJDPojXS6LN02fQVtKR", "stripe:in_1KJdKkJDPojXS6LNSwSWkZSN")),
    ("charge.refunded_legacy-2012", "Payment refunded",
     ("stripe:cus_00000000000000", "stripe:ch_00000000000000", "stripe:in_00000000000000")),
    ("charge.failed_legacy-2012", "Payment failed",
     ("stripe:cus_00000000000000", "stripe:ch_00000000000000", "stripe:in_00000000000000")),
    ("invoice.payment_failed_legacy-2012", "Invoice payment failed",
     ("stripe:cus_00000000000000", "stripe:in_00000000000000")),
    # Stripe's API-docs test charge says captured: false, amount_captured: 0: authorised only
    ("charge.succeeded_2020-08-27", "Payment authorised", ("stripe:ch_3L7z2aDu4p87RxPw290ERIXH",)),
    ("charge.dispute.created_2020-03-02", "Payment inquiry",
     ("stripe:ch_1IqtGAJDPojXS6LNstgEfUji", "stripe:pi_1IqtG9JDPojXS6LNOGnYrIqq")),
    ("charge.dispute.created_2025-04-30.basil", "Payment disputed",
     ("stripe:ch_3RWXidQ8iJWBZFaM07eC54Yk", "stripe:pi_3RWXidQ8iJWBZFaM0hwfe7LL")),
    ("payment_intent.canceled_2025-05-28.basil", Filtered(
        "event_type_not_shown", "stripe: payment_intent.canceled is not shown on the timeline"),
     None),
    ("customer.updated_no-email_2020-08-27", Filtered(
        "nothing_to_learn", "stripe: customer.updated cus_LvhVVlIHIM4om8 has no email or phone"),
     None),
]


# A payment attempt is keyed by its charge, so its payment_intent.* and charge.* events are one fact.
ATTEMPT_KEYS = {
    "payment_intent.payment_failed_2020-08-27": "stripe:charge:ch_3Qu0oXQ8iJWBZFaM2mejOQKg:failed",
    "payment_intent.payment_failed_2025-04-30.basil":
        "stripe:charge:ch_3RWGX8Q8iJWBZFaM0IWum1a6:failed",
    "payment_intent.succeeded_2022-11-15": "stripe:charge:ch_3R3dvoQ8iJWBZFaM0NhAbztB:succeeded",
    "charge.failed_legacy-2012": "stripe:charge:ch_00000000000000:failed",
    "charge.succeeded_2020-08-27": "stripe:charge:ch_3L7z2aDu4p87RxPw290ERIXH:authorized",
}


@pytest.mark.parametrize(("fixture", "outcome", "contact"), OUTCOMES)
def test_every_fixture_becomes_an_activity_for_an_email_or_refs_or_a_filter_reason(
        fixture: str, outcome: str | Filtered, contact: tuple[str, ...] | None) -> None:
    event = load(fixture)
    if isinstance(outcome, Filtered):
        assert stripe_activity(event, META) == outcome
        return
    activity = one(event)
    assert activity.name == outcome
    assert activity.key == ATTEMPT_KEYS.get(fixture, f"stripe:{event['id']}")
    if contact and contact[0] == "email":
        assert activity.contact.identifier() == contact and activity.contact.refs == ()
    else:  # no email or phone in the event: the ids it names, for the directory to resolve
        assert activity.contact == Contact(refs=contact)
        assert activity.needs_contact


def test_customer_updated_teaches_the_directory_who_the_customer_is_and_shows_nothing() -> None:
    activities, links = run(load("customer.updated_2020-08-27"))
    assert activities == []
    assert links == [Link("stripe:cus_123456789", contact=Contact(email="test@getlago.com"))]


def test_a_customer_created_event_teaches_its_phone_too() -> None:
    event = load("customer.updated_2020-08-27") | {"type": "customer.created"}
    event["data"]["object"].update(email=None, phone="+15555550100")
    assert run(event)[1] == [Link("stripe:cus_123456789", contact=Contact(phone="+15555550100"))]


def test_a_charge_teaches_that_its_ids_belong_to_its_customer() -> None:
    _, links = run(load("charge.refunded_2020-03-02"))
    assert links == [Link("stripe:ch_3Kl36gJDPojXS6LN0DCM4A8l", alias_of="stripe:cus_J7Mkgr8mvbl1eK"),
                     Link("stripe:pi_3Kl36gJDPojXS6LN02fQVtKR", alias_of="stripe:cus_J7Mkgr8mvbl1eK"),
                     Link("stripe:in_1KJdKkJDPojXS6LNSwSWkZSN", alias_of="stripe:cus_J7Mkgr8mvbl1eK")]


def test_an_event_naming_customer_and_email_teaches_both() -> None:
    activity, links = run(load("checkout.session.completed_2020-03-02"))
    assert activity[0].contact.identifier() == ("email", "billz@supabase.io")
    assert links[0] == Link("stripe:cus_IhGfebO16cMIGN", contact=Contact(email="billz@supabase.io"))
    assert Link("stripe:pi_1IqxJOJDPojXS6LN9uOebAea", alias_of="stripe:cus_IhGfebO16cMIGN") in links


def test_a_guest_charge_with_an_email_teaches_its_charge_and_intent_that_email() -> None:
    event = load("charge.succeeded_2020-08-27")
    event["data"]["object"]["billing_details"]["email"] = "guest@example.com"
    event["data"]["object"]["payment_intent"] = "pi_guest"
    _, links = run(event)
    guest = Contact(email="guest@example.com")
    assert links == [Link("stripe:ch_3L7z2aDu4p87RxPw290ERIXH", contact=guest),
                     Link("stripe:pi_guest", contact=guest)]


def test_a_shipping_phone_is_the_recipients_not_the_customers() -> None:
    event = load("charge.succeeded_2020-08-27")
    event["data"]["object"]["shipping"] = {"name": "Steve Shipper", "phone": "+15555550199",
                                           "address": {"line1": "123 Shipping Street"}}
    activity = one(event)
    assert activity.contact == Contact(refs=("stripe:ch_3L7z2aDu4p87RxPw290ERIXH",))
    assert activity.actor.name != "Steve Shipper"


def test_a_dispute_names_its_charge_and_resolves_to_the_charges_customer() -> None:
    activity = one(load("charge.dispute.created_2025-04-30.basil"))
    assert activity.contact.refs[0] == "stripe:ch_3RWXidQ8iJWBZFaM07eC54Yk"
    resolved = activity.with_contact(RESOLVED)
    assert orjson.loads(encode(resolved))["contact"] == {"email": "rachel@example.com"}


def test_the_external_id_fallback_still_works_when_configured() -> None:
    activity = one(load("payment_intent.succeeded_2022-11-15"), BY_CUSTOMER_ID)
    assert activity.contact.identifier() == ("unique_external_id", "stripe:cus_Rw5Qso78STEap3")


def test_an_event_naming_neither_contact_nor_any_id_is_rejected() -> None:
    event = load("charge.dispute.created_2025-04-30.basil")
    event["data"]["object"].update(charge=None, payment_intent=None)
    with pytest.raises(TransformError, match="sent no customer id either: nothing names the "):
        stripe_activity(event, META)


@pytest.mark.parametrize(("event", "message"), [
    ([1, 2], r"not a Stripe event: expected a JSON object \(got array\)"),
    ({"id": "ch_1", "object": "charge", "amount": 100},
     "not a Stripe event: its object is 'charge', not 'event'"),
    ({"order_id": 5}, "not a Stripe event: no `type`/`object`"),
    ({"object": "event", "id": "evt_1"}, "not a Stripe event: no `type` "),
])
def test_a_format_that_is_not_a_stripe_event_says_so(event: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        stripe_activity(event, META)


def test_a_negative_amount_is_rejected_not_shown_as_succeeded() -> None:
    event = load("payment_intent.succeeded_2022-11-15")
    event["data"]["object"].update(amount=-3897, amount_received=-3897)
    with pytest.raises(TransformError, match=r"data.object.amount is negative \(-3897\)"):
        stripe_activity(event, META)


def test_a_second_partial_refund_says_what_this_refund_was_and_the_total() -> None:
    # issue 9: this read "20.00 USD of the 25.00 USD payment was refunded: requested by customer"
    activity = one(load("charge.refunded_second-partial_built-from-2020-03-02"))
    assert activity.name == "Payment partly refunded"
    assert activity.description == (
        "10.00 USD more of the 25.00 USD payment was refunded: requested by customer "
        "(20.00 USD refunded in total).")
    assert activity.context is not None
    assert activity.context["Refunded amount"] == "10.00 USD"
    assert activity.context["Refunded in total"] == "20.00 USD"
    assert activity.context["Refund ID"] == "re_3Kl36gJDPojXS6LN0bbbbbb2"


def test_without_previous_attributes_the_newest_refund_is_the_one_described() -> None:
    event = load("charge.refunded_second-partial_built-from-2020-03-02")
    del event["data"]["previous_attributes"]
    assert one(event).description == (
        "10.00 USD more of the 25.00 USD payment was refunded: requested by customer "
        "(20.00 USD refunded in total).")


def test_the_refund_that_completes_a_partly_refunded_payment_says_so() -> None:
    event = load("charge.refunded_second-partial_built-from-2020-03-02")
    event["data"]["object"]["amount_refunded"] = 2500
    event["data"]["object"]["refunds"]["data"][0]["amount"] = 500
    event["data"]["previous_attributes"]["amount_refunded"] = 2000
    activity = one(event)
    assert activity.name == "Payment refunded"
    assert activity.description == ("The last 5.00 USD of the 25.00 USD payment was refunded: "
                                    "requested by customer: it is now refunded in full.")


def test_an_inquiry_is_worded_as_an_inquiry_not_a_dispute() -> None:
    # issue 9: warning_needs_response read "The customer disputed the payment with their bank"
    activity = one(load("charge.dispute.created_2020-03-02"))
    assert activity.name == "Payment inquiry"
    assert activity.description == (
        "The customer's bank opened an inquiry about the 10.00 USD payment. This is not a "
        "dispute yet: no money has been taken back. Reason: no specific reason was given. "
        "A response is due by 2023-01-21 23:59 UTC.")
    assert activity.context is not None
    assert activity.context["Status"] == "inquiry"
    assert activity.context["Dispute status"] == "warning needs response"
    assert "Evidence due by" not in activity.context


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
        "(3-D Secure) and it was not confirmed. The customer can try again and complete the "
        "bank's confirmation step; if it is declined again, they can ask their card issuer.")
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
    activity = one(load("charge.refunded_2020-03-02"))
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
    event["data"]["object"]["refunds"]["data"][0].update(amount=1000, reason="requested_by_customer")
    activity = one(event)
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


# ---- issue 22: why it failed and what the customer can do, in words (class 1) ------------------

DECLINED = "charge.failed_transaction-not-allowed_built-from-2020-08-27"
DECLINED_INTENT = "payment_intent.payment_failed_transaction-not-allowed_built-from-2025-04-30.basil"


def test_a_decline_code_reads_as_stripe_documents_it_with_the_next_step_and_the_raw_codes() -> None:
    # before: "Payment of 25.00 USD failed: the card was declined." with the code raw in the context
    activity = one(load(DECLINED))
    assert activity.description == (
        "Payment of 25.00 USD failed: the card issuer declined it without giving a reason. "
        "The customer can ask their card issuer why, or use another payment method.")
    context = activity.context
    assert context is not None
    assert context["Decline code"] == "transaction_not_allowed"
    assert context["Failure code"] == "card_declined"
    assert context["Processor message"] == "Your card does not support this type of purchase."
    assert context["What the customer can do"].startswith("The customer can ask their card issuer")
    # "The bank returned the decline code `transaction_not_allowed`." says no more than the code
    assert "Stripe's note" not in context


@pytest.mark.parametrize("code", ["insufficient_funds", "expired_card", "incorrect_cvc",
                                  "do_not_honor", "transaction_not_allowed"])
def test_the_common_decline_codes_say_what_happened_and_what_now(code: str) -> None:
    event = load(DECLINED)
    event["data"]["object"]["outcome"]["reason"] = code
    activity = one(event)
    reason, next_step = stripe.STRIPE_DECLINES[code]
    assert activity.description == f"Payment of 25.00 USD failed: {reason}. {next_step}"
    assert activity.context is not None and activity.context["Decline code"] == code


@pytest.mark.parametrize("code", ["lost_card", "stolen_card", "fraudulent", "pickup_card",
                                  "merchant_blacklist", "restricted_card"])
def test_codes_stripe_says_not_to_explain_accuse_nobody(code: str) -> None:
    event = load(DECLINED)
    event["data"]["object"]["outcome"]["reason"] = code
    activity = one(event)
    assert activity.description is not None
    for word in ("lost", "stolen", "fraud", "block list", "pick up"):
        assert word not in activity.description.lower()
    assert "not to share with the customer" in activity.description
    assert activity.context is not None and activity.context["Decline code"] == code


def test_the_sellers_note_explains_a_code_stripe_does_not_document_as_a_decline() -> None:
    event = load(DECLINED)
    event["data"]["object"]["outcome"] = {
        "network_status": "not_sent_to_network", "reason": "highest_risk_level",
        "risk_level": "highest", "seller_message": "Stripe blocked this payment as too risky.",
        "type": "blocked"}
    activity = one(event)
    assert activity.description == "Payment of 25.00 USD failed: Stripe blocked this payment as too risky."
    assert activity.context is not None
    assert activity.context["Stripe's note"] == "Stripe blocked this payment as too risky."


def test_every_documented_code_has_words_and_a_next_step() -> None:
    assert len(stripe.STRIPE_DECLINES) >= 45
    for code, (reason, next_step) in stripe.STRIPE_DECLINES.items():
        assert code == code.lower() and reason and reason[0].islower() and not reason.endswith(".")
        assert next_step[0].isupper() and next_step.endswith("."), code


# ---- issue 22: one attempt, one key (class 2) --------------------------------------------------


def test_a_payment_intent_and_its_charge_failing_are_one_fact_for_the_ledger() -> None:
    # subscribed to both payment_intent.* and charge.*, one failed attempt sent two events
    from_charge, from_intent = one(load(DECLINED)), one(load(DECLINED_INTENT))
    assert from_charge.key == from_intent.key == "stripe:charge:ch_3L8a1fDu4p87RxPw1k0QwS2e:failed"
    assert from_charge.description == from_intent.description
    assert load(DECLINED)["id"] != load(DECLINED_INTENT)["id"]


def test_a_succeeded_intent_and_its_charge_are_one_fact_but_an_authorisation_is_another() -> None:
    intent = one(load("payment_intent.succeeded_2022-11-15"))
    charge_event = load("charge.succeeded_2020-08-27")
    charge_event["data"]["object"].update(id="ch_3R3dvoQ8iJWBZFaM0NhAbztB", captured=True)
    captured = one(charge_event)
    assert captured.name == "Payment succeeded"
    assert captured.key == intent.key == "stripe:charge:ch_3R3dvoQ8iJWBZFaM0NhAbztB:succeeded"
    charge_event["data"]["object"]["captured"] = False
    authorised = one(charge_event)
    assert authorised.name == "Payment authorised"
    assert authorised.key == "stripe:charge:ch_3R3dvoQ8iJWBZFaM0NhAbztB:authorized"


def test_an_attempt_without_a_charge_keeps_the_event_key() -> None:
    event = load("payment_intent.payment_failed_2025-04-30.basil")
    event["data"]["object"]["latest_charge"] = None
    assert one(event).key == f"stripe:{event['id']}"
