"""The built-in ``square`` transform on webhook events in Square's documented shapes
(tests/fixtures/vendors/square, sources in its MANIFEST.md): one activity per object state, and
the ids that chain a refund or a dispute to its payment, a payment to its customer."""

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
    square,
)
from transforms.square import square_activity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors" / "square"
META = EventMeta("square.webhooks", 0, 1, datetime(2024, 6, 1, tzinfo=UTC), None)
RESOLVED = Contact(email="rachel@example.com")
PAYMENT = "square:payment:bP9mAsEMYPUGjjGNaNO5ZDVyLhSZY"
CUSTOMER = "square:customer:JDKYHBWT1D4F8MFH63DBMEN8Y4"
ORDER = "square:order:CAISENgvlJ6jLWAzERDzjyHVybY"
REFUND = "square:refund:bP9mAsEMYPUGjjGNaNO5ZDVyLhSZY_R7uXtCPNUd2x0JZYzGIJtRdfZKmVM"


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / f"{name}_built.json").read_bytes())


def run(event: Any) -> tuple[list[Activity], list[Link]]:
    checked = check(square_activity(event, META))
    assert checked.filtered is None, checked.filtered
    for activity in checked.activities:
        encode(activity.with_contact(RESOLVED) if activity.needs_contact else activity)
    return list(checked.activities), list(checked.links)


@pytest.mark.parametrize(("fixture", "name", "description"), [
    ("payment.created_approved", "Payment authorised",
     "A payment of 25.00 USD was authorised (Visa ending in 1111); it has not been completed "
     "(captured) yet."),
    ("payment.updated_completed", "Payment completed",
     "Payment of 25.00 USD completed (Visa ending in 1111)."),
    ("payment.updated_failed-insufficient-funds", "Payment failed",
     "Payment of 42.00 USD (Visa ending in 1111) failed: the card has insufficient funds to cover "
     "the payment. The customer can use another card or payment method."),
    ("refund.created_pending", "Refund pending",
     "A refund of 10.00 USD was started; it is pending. Reason given: Returned goods."),
    ("refund.updated_completed", "Payment refunded",
     "10.00 USD of the payment was refunded. Reason given: Returned goods."),
    ("dispute.created_evidence-required", "Payment disputed",
     "The cardholder disputed the 25.00 USD payment with their bank. Reason: the cardholder says "
     "they did not receive the product or service. A response is due by 2024-06-03 00:00 UTC."),
    ("dispute.state.updated_won", "Dispute won",
     "The dispute over the 25.00 USD payment was decided in the business's favour. Reason: the "
     "cardholder says they did not receive the product or service."),
    ("order.created_open", "Order created", "Square order CAISENgvlJ6jLWAzERDzjyHVybY was created."),
    ("order.updated_completed", "Order completed",
     "Square order CAISENgvlJ6jLWAzERDzjyHVybY was completed."),
])
def test_each_event_reads_as_what_its_object_shows(fixture: str, name: str,
                                                   description: str) -> None:
    [activity], _ = run(load(fixture))
    assert (activity.name, activity.description) == (name, description)


def test_created_and_updated_for_the_same_state_are_one_fact() -> None:
    [created], _ = run(load("payment.created_approved"))
    updated_event = load("payment.updated_completed")
    [completed], _ = run(updated_event)
    assert created.key == f"square:payment:{PAYMENT.rsplit(':', 1)[1]}:APPROVED"
    assert completed.key == f"square:payment:{PAYMENT.rsplit(':', 1)[1]}:COMPLETED"
    updated_event["type"] = "payment.created"  # the same state told by the other event type
    assert run(updated_event)[0][0].key == completed.key


def test_a_payment_without_an_email_names_its_ids_and_teaches_that_they_are_its_customers() -> None:
    [activity], links = run(load("payment.updated_completed"))
    assert activity.contact == Contact(refs=(PAYMENT, CUSTOMER, ORDER))
    assert links == [Link(PAYMENT, alias_of=CUSTOMER), Link(ORDER, alias_of=CUSTOMER)]


def test_a_payment_with_the_buyers_email_teaches_it() -> None:
    [activity], links = run(load("payment.updated_failed-insufficient-funds"))
    buyer = Contact(email="buyer@example.com")
    assert activity.contact == buyer
    assert links == [Link("square:payment:RKz2rUQmcKIuVx5bCHFlVNd1awUZY", contact=buyer),
                     Link("square:order:M5wDSvuo2Wq8mJ0rpbZRzyJwvQEZY", contact=buyer)]


def test_a_refund_names_its_payment() -> None:
    [activity], links = run(load("refund.updated_completed"))
    assert activity.contact == Contact(refs=(REFUND, PAYMENT))
    assert links == [Link(REFUND, alias_of=PAYMENT)]
    assert activity.object is not None and activity.object.id == PAYMENT.rsplit(":", 1)[1]


def test_a_customer_record_teaches_its_email_and_phone() -> None:
    activities, links = run(load("customer.created"))
    assert activities == []
    assert links == [Link(CUSTOMER, contact=Contact(email="amelia.earhart@example.com",
                                                    phone="+1-212-555-4240"))]


def test_the_time_is_the_moment_the_payment_reached_its_state() -> None:
    [approved], _ = run(load("payment.created_approved"))
    assert approved.timestamp == datetime(2024, 5, 2, 14, 5, 11, 187000, tzinfo=UTC)  # authorized_at
    [completed], _ = run(load("payment.updated_completed"))
    assert completed.timestamp == datetime(2024, 5, 2, 14, 20, 4, 700000, tzinfo=UTC)  # captured_at
    [order], _ = run(load("order.updated_completed"))
    assert order.timestamp == datetime(2024, 5, 2, 14, 20, 5, 120000, tzinfo=UTC)  # updated_at


def test_a_failed_payment_without_error_codes_does_not_invent_a_reason() -> None:
    event = load("payment.updated_failed-insufficient-funds")
    del event["data"]["object"]["payment"]["card_details"]["errors"]
    [activity], _ = run(event)
    assert activity.description == ("Payment of 42.00 USD (Visa ending in 1111) failed (Square "
                                     "did not say why).")


def test_every_payment_error_has_words_and_a_next_step() -> None:
    for code, (words, next_step) in square.PAYMENT_ERRORS.items():
        assert code == code.upper() and words[0].islower() and not words.endswith(".")
        assert next_step[0].isupper() and next_step.endswith("."), code


@pytest.mark.parametrize(("state", "name"), [
    ("INQUIRY_EVIDENCE_REQUIRED", "Payment inquiry"), ("LOST", "Dispute lost"),
    ("ACCEPTED", "Dispute accepted")])
def test_an_inquiry_is_not_called_a_dispute_and_outcomes_are_named(state: str, name: str) -> None:
    event = load("dispute.created_evidence-required")
    event["data"]["object"]["dispute"]["state"] = state
    [activity], _ = run(event)
    assert activity.name == name


@pytest.mark.parametrize(("fixture", "path", "value", "reason"), [
    ("payment.updated_completed", ("payment", "status"), "PENDING", "status_not_shown"),
    ("order.created_open", ("order_created", "state"), "DRAFT", "status_not_shown"),
])
def test_states_that_tell_an_agent_nothing_are_filtered_or_only_teach(
        fixture: str, path: tuple[str, str], value: str, reason: str) -> None:
    event = load(fixture)
    event["data"]["object"][path[0]][path[1]] = value
    result = square_activity(event, META)
    if fixture.startswith("payment"):  # a pending payment still teaches its customer
        assert check(result).links and not check(result).activities
    else:
        assert isinstance(result, Filtered) and result.reason == reason


def test_amounts_are_minor_units_with_iso_exponents_exactly() -> None:
    event = load("payment.updated_completed")
    payment = event["data"]["object"]["payment"]
    payment["total_money"] = {"amount": 2**63 - 1, "currency": "JPY"}
    payment["amount_money"] = payment["total_money"]
    [activity], _ = run(event)
    assert activity.context is not None and activity.context["Amount"] == "9223372036854775807 JPY"
    payment["total_money"] = {"amount": 25.0, "currency": "USD"}
    with pytest.raises(TransformError, match=r"total_money\.amount must be an integer"):
        square_activity(event, META)


def test_event_types_not_shown_are_filtered() -> None:
    event = load("payment.updated_completed") | {"type": "invoice.created"}
    assert square_activity(event, META) == Filtered(
        "event_type_not_shown", "square: invoice.created is not shown on the timeline")


@pytest.mark.parametrize(("event", "message"), [
    ("x", r"^not a Square webhook: expected a JSON object \(got string\)"),
    ({"type": "payment.updated"}, r"^not a Square webhook: no `type`/`data`"),
    ({"merchant_id": "M", "type": "refund.updated", "data": {"id": "1", "object": {}}},
     r"has no data.object.refund"),
])
def test_what_cannot_be_read_says_what(event: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        square_activity(event, META)
