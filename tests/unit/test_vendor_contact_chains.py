"""The new vendors' events find their contact through the contact directory, by the Links their
own streams teach (issue 22): a PayPal refund → capture → order → the payer's email, a Square
refund → payment → customer → email, a commercetools payment → order → customer → email. Each
event alone waits honestly (names refs nobody taught); in a stream, it resolves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from consumer.contacts.directory import MemoryDirectory
from transforms import BUILTIN_TRANSFORMS, Activity, Contact, EventMeta, check

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
META = EventMeta("t", 0, 0, datetime(2024, 6, 1, tzinfo=UTC), None)


def stream(vendor: str, names: list[str]) -> list[tuple[str, Contact | None]]:
    """Each event in order through one directory, as the pipeline does: its Links learned first,
    then each activity's refs resolved. ``(activity name, contact or None while waiting)``."""
    directory = MemoryDirectory()
    seen: list[tuple[str, Contact | None]] = []
    for name in names:
        event: Any = orjson.loads((VENDORS / vendor / name).read_bytes())
        checked = check(BUILTIN_TRANSFORMS[vendor](event, META))
        directory.learn(checked.links)
        for activity in checked.activities:
            seen.append((activity.name, _contact(activity, directory)))
    return seen


def _contact(activity: Activity, directory: MemoryDirectory) -> Contact | None:
    if not activity.needs_contact:
        return activity.contact
    return directory.resolve(activity.contact.refs)


def test_a_paypal_refund_alone_waits_for_the_order_that_names_the_payer() -> None:
    assert stream("paypal", ["capture-refunded_built.json"]) == [("Payment refunded", None)]


def test_a_paypal_refund_resolves_through_its_capture_and_order_to_the_payer() -> None:
    buyer = Contact(email="buyer@example.com")
    assert stream("paypal", ["checkout-order-approved_built.json", "authorization-created_built.json",
                             "capture-completed_built.json", "capture-refunded_built.json",
                             "dispute-created-inquiry_built.json"]) == [
        ("PayPal checkout approved", buyer), ("Payment authorised", buyer),
        ("Payment completed", buyer), ("Payment refunded", buyer), ("PayPal inquiry", buyer)]


def test_a_square_refund_resolves_through_its_payment_and_customer() -> None:
    amelia = Contact(email="amelia.earhart@example.com", phone="+1-212-555-4240")
    assert stream("square", ["refund.updated_completed_built.json"]) == [("Payment refunded", None)]
    assert stream("square", ["customer.created_built.json", "payment.updated_completed_built.json",
                             "refund.updated_completed_built.json",
                             "dispute.created_evidence-required_built.json",
                             "order.updated_completed_built.json"]) == [
        ("Payment completed", amelia), ("Payment refunded", amelia), ("Payment disputed", amelia),
        ("Order completed", amelia)]


def test_a_commercetools_payment_resolves_through_its_order_to_the_customer() -> None:
    john = Contact(email="johndoe@example.com")
    payment_first = ["PaymentTransactionAdded_charge-failure_built.json"]
    assert stream("commercetools", payment_first) == [("Payment failed", None)]
    # without the order's email: payment → order → customer → CustomerCreated's email
    directory = MemoryDirectory()
    order = orjson.loads((VENDORS / "commercetools" / "OrderCreated_built.json").read_bytes())
    del order["order"]["customerEmail"]
    for event in (orjson.loads((VENDORS / "commercetools" / "CustomerCreated_built.json")
                               .read_bytes()), order):
        directory.learn(check(BUILTIN_TRANSFORMS["commercetools"](event, META)).links)
    payment = orjson.loads((VENDORS / "commercetools" / payment_first[0]).read_bytes())
    [activity] = check(BUILTIN_TRANSFORMS["commercetools"](payment, META)).activities
    assert directory.resolve(activity.contact.refs) == john
    assert stream("commercetools", ["OrderCreated_built.json", *payment_first,
                                    "OrderPaymentStateChanged_paid_built.json"]) == [
        ("Order 10042 placed", john), ("Payment failed", john), ("Order 10042 paid", john)]
