"""The built-in ``adyen`` transform on the standard-webhook fixtures of Adyen's own Java SDK
(tests/fixtures/vendors/adyen, sources in its MANIFEST.md): every event code, success or not."""

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
    adyen,
    check,
    encode,
)
from transforms.adyen import adyen_activity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "adyen"
META = EventMeta("adyen", 0, 1, datetime(2024, 5, 1, tzinfo=UTC), None)
RESOLVED = Contact(email="rachel@example.com")
TWO_ITEMS = "two-items_authorisation-with-shopper-details+capture_built.json"


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / name).read_bytes())


def run(event: Any, transform: Any = adyen_activity) -> tuple[list[Activity], list[Link]]:
    checked = check(transform(event, META))
    assert checked.filtered is None, checked.filtered
    for activity in checked.activities:
        encode(activity.with_contact(RESOLVED) if activity.needs_contact else activity)
    return list(checked.activities), list(checked.links)


@pytest.mark.parametrize(("fixture", "name", "description"), [
    ("authorisation-true.json", "Payment authorised", "A payment of 101.00 EUR was authorised."),
    ("authorisation-false_built.json", "Payment refused",
     "A payment of 101.00 EUR was refused: the card's security code (CVC) was wrong. The shopper "
     "can try again, entering the security code on the card."),
    ("capture-true.json", "Payment captured", "236.23 USD of the payment was captured."),
    ("capture-false.json", "Capture failed",
     "Capturing 236.23 USD of the payment failed: Insufficient balance on payment."),
    ("refund-true.json", "Payment refunded", "15.00 EUR of the payment was refunded."),
    ("refund-false.json", "Refund failed",
     "Refunding 15.00 EUR of the payment failed: Insufficient balance on payment."),
    ("cancellation-true.json", "Payment cancelled",
     "The payment (5.00 EUR) was cancelled before it was captured."),
    ("chargeback.json", "Payment charged back",
     "The shopper's bank charged back 10.00 EUR of the payment. Reason: Other Fraud-Card Absent "
     "Environment."),
    ("authorisation-true-additional-attribute.json", "Payment authorised",
     "A payment of 101.00 EUR was authorised."),
])
def test_every_event_code_and_its_failure_reads_as_what_happened(
        fixture: str, name: str, description: str) -> None:
    [activity], _ = run(load(fixture))
    assert (activity.name, activity.description) == (name, description)


def test_the_key_is_what_identifies_an_adyen_notification_so_a_retry_is_one_fact() -> None:
    [ok], _ = run(load("capture-true.json"))
    [failed], _ = run(load("capture-false.json"))
    assert ok.key == "adyen:MagentoMerchantTest2:PSP_REFERENCE:CAPTURE:true"
    assert failed.key == "adyen:MagentoMerchantTest2:PSP_REFERENCE:CAPTURE:false"
    assert ok.key != failed.key  # the same modification, success and failure: two facts


def test_a_modification_names_its_original_payment_and_teaches_that_they_belong_together() -> None:
    [activity], links = run(load("chargeback.json"))
    assert activity.contact == Contact(refs=("adyen:psp:9913333333333333", "adyen:psp:9915555555555555",
                                             "adyen:reference:XXXXXXXXXX"))
    assert links == [Link("adyen:psp:9915555555555555", alias_of="adyen:psp:9913333333333333")]
    assert activity.object is not None and activity.object.id == "9913333333333333"
    assert activity.object.link == ("https://ca-live.adyen.com/ca/ca/accounts/showTx.shtml?"
                                    "pspReference=9913333333333333&txType=Payment")  # live: "true"
    assert activity.timestamp == datetime(2018, 3, 23, 12, 55, 31, tzinfo=UTC)
    assert activity.context is not None
    assert activity.context["Chargeback reason code"] == "10.4"


def test_each_item_of_a_message_is_its_own_activity_and_shopper_details_are_learned() -> None:
    (authorised, captured), links = run(load(TWO_ITEMS))
    assert authorised.contact.identifier() == ("email", "rachel@example.com")
    assert authorised.actor.id == "shopper-1042"
    assert captured.name == "Payment captured" and captured.actor.type == "system"
    rachel = Contact(email="rachel@example.com")
    assert Link("adyen:psp:123456789", contact=rachel) in links
    assert Link("adyen:shopper:shopper-1042", contact=rachel) in links
    assert Link("adyen:psp:8814853640987132", alias_of="adyen:psp:123456789") in links


def test_event_codes_not_shown_are_filtered_and_dropped_from_a_mixed_message() -> None:
    report = load("authorisation-true.json")
    report["notificationItems"][0]["NotificationRequestItem"]["eventCode"] = "REPORT_AVAILABLE"
    assert adyen_activity(report, META) == Filtered(
        "event_type_not_shown", "adyen: REPORT_AVAILABLE is not shown on the timeline")
    mixed = load(TWO_ITEMS)
    mixed["notificationItems"][0]["NotificationRequestItem"]["eventCode"] = "REPORT_AVAILABLE"
    activities, _ = run(mixed)
    assert [a.name for a in activities] == ["Payment captured"]


@pytest.mark.parametrize(("change", "message"), [
    ({"amount": {"value": -1000, "currency": "EUR"}}, r"amount.value is negative \(-1000\)"),
    ({"amount": {"value": "10.00", "currency": "EUR"}}, "amount.value must be an integer"),
    ({"success": "maybe"}, r"success must be \"true\" or \"false\""),
    ({"pspReference": None}, "has no pspReference"),
    ({"eventDate": "yesterday"}, "eventDate: 'yesterday' is not an ISO-8601 time"),
])
def test_a_broken_item_is_rejected_naming_the_item_and_field(change: dict[str, Any],
                                                             message: str) -> None:
    event = load("authorisation-true.json")
    event["notificationItems"][0]["NotificationRequestItem"].update(change)
    with pytest.raises(TransformError, match=r"Adyen notificationItems\[0\] \(AUTHORISATION\).*"
                                             + message):
        adyen_activity(event, META)


@pytest.mark.parametrize(("event", "message"), [
    ("notificationItems", r"^not an Adyen notification: expected a JSON object \(got string\)"),
    ({"type": "charge.succeeded"}, r"^not an Adyen notification: no `notificationItems` list$"),
    ({"eventCode": "AUTHORISATION", "pspReference": "1"},
     r"no `notificationItems` list \(a bare NotificationRequestItem\?"),
])
def test_a_format_that_is_not_an_adyen_notification_says_so(event: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        adyen_activity(event, META)


@pytest.mark.parametrize(("minor", "currency", "shown"), [
    (10100, "EUR", "101.00 EUR"), (5000, "JPY", "5000 JPY"), (1500, "KWD", "1.500 KWD"),
    (1050, "CLP", "10.50 CLP"),  # Adyen: two decimals for CLP, where ISO has none
    (500, "CVE", "500.00 CVE"),  # Adyen: none for CVE, where ISO has two (shown padded to ISO)
])
def test_minor_units_use_adyens_exponents(minor: int, currency: str, shown: str) -> None:
    event = load("authorisation-true.json")
    event["notificationItems"][0]["NotificationRequestItem"]["amount"] = {
        "value": minor, "currency": currency}
    [activity], _ = run(event)
    assert activity.context is not None and activity.context["Amount"] == shown


def test_payment_links_can_be_turned_off() -> None:
    [activity], _ = run(load("authorisation-true.json"), adyen.configure(payment_links=False))
    assert activity.object is not None and activity.object.link is None


# ---- issue 22 ------------------------------------------------------------------------------------


def test_a_refusal_reason_reads_as_words_with_what_the_shopper_can_do_and_keeps_the_raw_reason() -> None:
    # class 1; before: "A payment of 101.00 EUR was refused: CVC Declined."
    [activity], _ = run(load("authorisation-false_built.json"))
    assert activity.context is not None
    assert activity.context["Reason"] == "CVC Declined"
    assert activity.context["What the shopper can do"] == (
        "The shopper can try again, entering the security code on the card.")


@pytest.mark.parametrize("reason", ["FRAUD", "Issuer Suspected Fraud", "Acquirer Fraud",
                                    "Blocked Card", "FRAUD-CANCELLED"])
def test_refusals_adyen_says_not_to_explain_accuse_nobody(reason: str) -> None:
    event = load("authorisation-false_built.json")
    event["notificationItems"][0]["NotificationRequestItem"]["reason"] = reason
    [activity], _ = run(event)
    assert activity.description is not None
    assert "fraud" not in activity.description.lower() and "blocked" not in activity.description
    assert "not to be shared with the shopper" in activity.description
    assert activity.context is not None and activity.context["Reason"] == reason


def test_an_unknown_refusal_reason_is_shown_as_adyen_wrote_it() -> None:
    event = load("authorisation-false_built.json")
    event["notificationItems"][0]["NotificationRequestItem"]["reason"] = "Some New Reason"
    [activity], _ = run(event)
    assert activity.description == "A payment of 101.00 EUR was refused: Some New Reason."


def test_every_refusal_reason_has_words_and_a_next_step() -> None:
    for reason, (words, next_step) in adyen.REFUSAL_REASONS.items():
        assert reason == reason.lower() and words[0].islower() and not words.endswith(".")
        assert next_step[0].isupper() and next_step.endswith("."), reason


def test_a_zero_value_authorisation_is_a_card_verification_not_a_payment() -> None:
    # class 4; before: "Payment authorised: A payment of 0.00 EUR was authorised."
    [activity], _ = run(load("authorisation-zero-value-card-verification_built.json"))
    assert activity.name == "Card verified"
    assert activity.description == ("The shopper's card was verified with a zero-value "
                                     "authorisation: no money was taken.")
    event = load("authorisation-zero-value-card-verification_built.json")
    event["notificationItems"][0]["NotificationRequestItem"].update(success="false",
                                                                    reason="Expired Card")
    [failed], _ = run(event)
    assert failed.name == "Card verification failed"
    assert failed.description == ("Verifying the shopper's card (a zero-value authorisation) "
                                  "failed: the card has expired. The shopper can use another card "
                                  "or payment method.")


def test_a_request_for_information_is_an_inquiry_not_a_chargeback() -> None:
    # class 4
    [activity], _ = run(load("request-for-information_built.json"))
    assert activity.name == "Payment inquiry"
    assert activity.description == (
        "The shopper's bank asked for information about the payment (10.00 EUR). This is not a "
        "chargeback: no money has been taken back. Reason: Other Fraud-Card Absent Environment. "
        "A response is due by 2018-03-30 08:12 UTC.")
    assert activity.context is not None
    assert activity.context["Inquiry reason code"] == "33"
    assert activity.context["Response due by"] == "2018-03-30 08:12 UTC"
    assert "chargeback" not in activity.name.lower()


def test_a_notification_of_chargeback_says_no_money_was_taken_yet() -> None:
    [activity], _ = run(load("notification-of-chargeback_built.json"))
    assert activity.name == "Chargeback opened"
    assert activity.description is not None
    assert activity.description.startswith(
        "The shopper's bank opened a chargeback of 10.00 EUR of the payment. No money has been "
        "taken back yet; it can still be defended.")
    assert activity.context is not None
    assert activity.context["Defence due by"] == "2018-04-10 07:30 UTC"


def test_success_and_live_as_json_booleans_read_as_the_strings_do() -> None:
    [as_strings], _ = run(load("capture-true.json"))
    [as_booleans], _ = run(load("capture-true-json-booleans_built.json"))
    assert as_booleans == as_strings
    event = load("capture-true-json-booleans_built.json")
    event["notificationItems"][0]["NotificationRequestItem"]["success"] = False
    [failed], _ = run(event)
    assert failed.name == "Capture failed" and failed.key is not None and failed.key.endswith(":false")


@pytest.mark.parametrize("success", [1, 0, "yes", None])
def test_success_that_is_neither_boolean_nor_the_string_is_rejected(success: Any) -> None:
    event = load("capture-true.json")
    event["notificationItems"][0]["NotificationRequestItem"]["success"] = success
    with pytest.raises(TransformError, match="success must be"):
        adyen_activity(event, META)
