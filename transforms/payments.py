"""Built-in transform for the generic ``payments`` topic (schema, examples: docs/event-schema.md).

One event, one activity, keyed ``payments:<event_id>``, object = the payment (with its link):

=================  =========================================  ==================================
type               name                                       actor
=================  =========================================  ==================================
payment.succeeded  Payment succeeded                          the customer (they paid)
payment.failed     Payment failed                             the customer (their attempt)
payment.refunded   Payment refunded (or partly refunded)      the shop/processor
payment.disputed   Payment disputed                           the customer (they disputed it
                                                              with their bank)
=================  =========================================  ==================================

Any other type is not for the timeline: ``Filtered("event_type_not_shown")``. Failure and dispute codes
become plain sentences (tables below); a code we do not know is shown as it came.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from transforms._envelope import (
    Envelope,
    amount,
    as_words,
    child,
    clip,
    currency,
    event_type,
    humanize,
    ident,
    read_envelope,
    reason_text,
    require,
    required_child,
    text,
)
from transforms._sniff import MARKER_KEYS
from transforms.activity import Activity, ActivityObject, Actor
from transforms.event import EventMeta, Filtered
from transforms.money import money
from transforms.probe import type_probe, with_probe
from transforms.timefmt import parse_time

__all__ = ["DISPUTE_REASONS", "FAILURE_REASONS", "payment_activity"]

# Processor failure codes (Stripe's names, which most processors echo) as what happened.
FAILURE_REASONS: dict[str, str] = {
    "card_declined": "the card was declined",
    "generic_decline": "the card was declined",
    "insufficient_funds": "the card has insufficient funds",
    "expired_card": "the card has expired",
    "incorrect_cvc": "the card's security code (CVC) is incorrect",
    "invalid_cvc": "the card's security code (CVC) is incorrect",
    "incorrect_number": "the card number is incorrect",
    "invalid_number": "the card number is incorrect",
    "processing_error": "an error occurred while processing the card; trying again usually works",
    "do_not_honor": "the bank declined the payment without giving a reason",
    "lost_card": "the card has been reported lost",
    "stolen_card": "the card has been reported stolen",
    "card_velocity_exceeded": "the card has reached its spending limit",
    "authentication_required": "the bank asked the customer to confirm the payment (3-D Secure) "
    "and it was not confirmed",
    "fraudulent": "the payment was blocked as likely fraud",
}

DISPUTE_REASONS: dict[str, str] = {
    "fraudulent": "the cardholder says they did not make this payment",
    "unrecognized": "the cardholder does not recognise this payment",
    "duplicate": "the customer says they were charged twice",
    "product_not_received": "the customer says they did not receive the order",
    "product_unacceptable": "the customer says the product was defective or not as described",
    "credit_not_processed": "the customer says a promised refund was not processed",
    "subscription_canceled": "the customer says they were charged after cancelling",
    "general": "no specific reason was given",
}

_CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american_express": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}


@dataclass(frozen=True, slots=True)
class _Payment:
    id: str
    amount: Decimal
    currency: str
    shown: str  # "50.00 USD"
    order: str | None  # "order #1001"
    method: str | None  # "Visa ending in 4242", "bank transfer"
    link: str | None

    def what(self) -> str:
        """``"the 50.00 USD payment for order #1001"``."""
        return f"the {self.shown} payment" + (f" for {self.order}" if self.order else "")


_Built = tuple[str, str, Actor, dict[str, Any]]


def payment_activity(event: Any, meta: EventMeta) -> Activity | Filtered:
    """The timeline activity for one payment event, or Filtered when its type is not one we show."""
    kind = event_type(event, "payments")
    build = _BUILDERS.get(kind)
    if build is None:
        return _not_shown(kind)
    env = read_envelope(event, meta, "shop")
    payment = _read_payment(event, kind)
    return env.activity(*build(event, env, payment),
                        obj=ActivityObject(type="payment", id=payment.id, link=payment.link),
                        key=f"payments:{env.event_id}")


def _read_payment(event: dict[str, Any], kind: str) -> _Payment:
    raw = required_child(event, "payment", "payment", kind)
    payment_id = require(ident(raw, "id", "payment.id"), "payment.id", kind)
    value = require(amount(raw, "amount", "payment.amount"), "payment.amount", kind)
    code = require(currency(raw, "currency", "payment.currency"), "payment.currency", kind)
    number = text(raw, "order_number", "payment.order_number") or ident(
        raw, "order_id", "payment.order_id"
    )
    if number is not None and not number.startswith("#"):
        number = f"#{number}"
    brand = text(raw, "card_brand", "payment.card_brand")
    last4 = text(raw, "card_last4", "payment.card_last4")
    method = text(raw, "method", "payment.method")
    if brand or last4:
        card = _CARD_BRANDS.get(brand.lower(), brand) if brand else "Card"
        method = f"{card} ending in {last4}" if last4 else card
    elif method:
        method = humanize(method)
    return _Payment(
        id=payment_id,
        amount=value,
        currency=code,
        shown=money(value, code),
        order=f"order {number}" if number else None,
        method=method,
        link=text(raw, "link", "payment.link"),
    )


def _summary(payment: _Payment, status: str) -> dict[str, Any]:
    context: dict[str, Any] = {"Amount": payment.shown, "Status": status}
    if payment.order:
        context["Order number"] = payment.order.removeprefix("order ")
    if payment.method:
        context["Payment method"] = payment.method
    context["Payment ID"] = payment.id
    return context


def _of(payment: _Payment) -> str:
    return f"Payment of {payment.shown}" + (f" for {payment.order}" if payment.order else "")


def _succeeded(event: dict[str, Any], env: Envelope, payment: _Payment) -> _Built:
    by = f" ({payment.method})" if payment.method else ""
    return (
        "Payment succeeded",
        f"{_of(payment)} succeeded{by}.",
        env.customer,
        _summary(payment, "succeeded"),
    )


def _failed(event: dict[str, Any], env: Envelope, payment: _Payment) -> _Built:
    raw = event["payment"]
    code = text(raw, "failure_code", "payment.failure_code")
    message = text(raw, "failure_message", "payment.failure_message")
    known = FAILURE_REASONS.get(code.lower()) if code else None
    reason = known or (message and reason_text(message)) or code
    context = _summary(payment, "failed")
    if reason:
        context["Failure reason"] = reason[:1].upper() + reason[1:]
    if code:
        context["Failure code"] = code
    if message:
        context["Processor message"] = clip(message, 500)
    return (
        "Payment failed",
        f"{_of(payment)} failed" + (f": {reason}." if reason else "."),
        env.customer,
        context,
    )


def _refunded(event: dict[str, Any], env: Envelope, payment: _Payment) -> _Built:
    refund = child(event, "refund", "refund") or {}
    refunded = amount(refund, "amount", "refund.amount")
    reason = text(refund, "reason", "refund.reason")
    partly = refunded is not None and refunded < payment.amount
    context = _summary(payment, "partly refunded" if partly else "refunded")
    because = f": {reason_text(reason)}" if reason else ""
    what = payment.what()
    shown = payment.shown if refunded is None else money(refunded, payment.currency)
    if partly:
        description = f"{shown} of {what} was refunded{because}."
    else:
        description = f"{what[:1].upper()}{what[1:]} was refunded in full{because}."
    context["Refund amount"] = shown
    if reason:
        context["Refund reason"] = as_words(reason)
    return (
        "Payment partly refunded" if partly else "Payment refunded",
        description,
        env.system(),
        context,
    )


def _disputed(event: dict[str, Any], env: Envelope, payment: _Payment) -> _Built:
    dispute = child(event, "dispute", "dispute") or {}
    code = text(dispute, "reason", "dispute.reason")
    disputed = amount(dispute, "amount", "dispute.amount")
    due = dispute.get("evidence_due_by")
    due_text = None
    if due is not None:
        due_text = f"{parse_time(due, 'dispute.evidence_due_by'):%Y-%m-%d %H:%M} UTC"
    reason = (DISPUTE_REASONS.get(code.lower()) or clip(code, 300)) if code else None
    what = payment.what()
    if disputed is not None and disputed != payment.amount:
        what = f"{money(disputed, payment.currency)} of {what}"
    who = env.customer_name or "The customer"
    description = f"{who} disputed {what} with their bank."
    if reason:
        description += f" Reason: {reason}."
    if due_text:
        description += f" Evidence is due by {due_text}."
    context = _summary(payment, "disputed")
    context["Disputed amount"] = (
        payment.shown if disputed is None else money(disputed, payment.currency)
    )
    if reason:
        context["Dispute reason"] = reason[:1].upper() + reason[1:]
    if code:
        context["Dispute code"] = code
    if due_text:
        context["Evidence due by"] = due_text
    return ("Payment disputed", description, env.customer, context)


_BUILDERS: dict[str, Callable[[dict[str, Any], Envelope, _Payment], _Built]] = {
    "payment.succeeded": _succeeded,
    "payment.failed": _failed,
    "payment.refunded": _refunded,
    "payment.disputed": _disputed,
}


def _not_shown(kind: str) -> Filtered:
    return Filtered("event_type_not_shown", f"payments: {clip(kind, 100)} is not shown on the "
                                            "timeline")


# Filtered types are settled from the raw bytes, without a decode (transforms.probe).
with_probe(payment_activity, type_probe(_BUILDERS, _not_shown, unsure_before=MARKER_KEYS))
