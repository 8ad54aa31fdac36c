"""Built-in transform for Square webhooks (what the agent sees: docs/vendors.md).

Square POSTs ``{"merchant_id": …, "type": "payment.updated", "event_id": …, "created_at": …,
"data": {"type": "payment", "id": …, "object": {"payment": {…}}}}``; the object is the API v2
resource (a Payment, Refund, Dispute, Customer) or, for orders, a short ``order_created`` /
``order_updated`` summary.

===============================  ==============================================  ===============
type                             name (by the object's status or state)          actor
===============================  ==============================================  ===============
payment.created / .updated       Payment authorised / completed / failed /       the customer;
                                 canceled (PENDING: Links only)                  Square (failed,
                                                                                 canceled)
refund.created / .updated        Refund pending / Payment refunded / Refund      Square
                                 failed / Refund rejected
dispute.created,                 Payment inquiry / Payment disputed / Dispute    the customer's
dispute.state.changed,           won / lost / accepted                           bank
dispute.state.updated
order.created / .updated         Order created / completed / canceled (DRAFT:    Square
                                 filtered)
customer.created / .updated      no activity: Links only
===============================  ==============================================  ===============

Square sends ``*.created`` and ``*.updated`` for the same state (and ``payment.updated`` again
when fees or refunds are added), so each activity is keyed by the object and its state,
``square:payment:<id>:COMPLETED``: the ledger shows each state once.

Contact: a payment's ``buyer_email_address``; else the ids it names (``square:payment:<id>``,
``square:customer:<customer_id>``, ``square:order:<order_id>``) for the contact directory. A
refund names its payment, a dispute its disputed payment, an order summary only itself; every
event returns the Links that chain them (refund → payment → customer → email, learned from the
payment and from ``customer.created``/``.updated``).

Amounts are minor units ("the smallest denomination of the currency", Square's API reference:
ISO 4217 exponents). The time is the object's own: for a payment the timeline's ``captured_at``
/ ``authorized_at`` / ``voided_at`` for that status, else the object's ``updated_at`` (its last
change) or ``created_at``, else the event's ``created_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from transforms._envelope import clip, humanize, json_kind
from transforms._sniff import misrouted
from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.contract import clean_text, vendor_ref
from transforms.event import EventMeta, Filtered, Transform, TransformError
from transforms.money import minor_to_major, money
from transforms.timefmt import parse_time

__all__ = ["DISPUTE_REASONS", "PAYMENT_ERRORS", "SquareConfig", "configure", "square_activity"]

_MAX_ID = 255
_ASK_ISSUER = "The customer can ask their card issuer why, or pay another way."
_ANOTHER = "The customer can use another card or payment method."
_RETYPE = "The customer can try again, entering the card details exactly as on the card."
# card_details.errors[].code of a failed payment (Square's "Payments API error codes"): what
# happened and what the customer can do.
PAYMENT_ERRORS: dict[str, tuple[str, str]] = {
    "GENERIC_DECLINE": ("the card issuer declined it without giving a reason", _ASK_ISSUER),
    "CARD_DECLINED": ("the card was declined", _ASK_ISSUER),
    "CARD_DECLINED_CALL_ISSUER": ("the card issuer declined it and asks to be called",
                                  _ASK_ISSUER),
    "CARD_DECLINED_VERIFICATION_REQUIRED": ("the card issuer requires the payment to be "
                                            "verified (for example by PIN or the bank's "
                                            "confirmation step)", "The customer can try again "
                                                                  "and complete the "
                                                                  "verification."),
    "INSUFFICIENT_FUNDS": ("the card has insufficient funds to cover the payment", _ANOTHER),
    "CVV_FAILURE": ("the card's security code (CVV) was wrong", _RETYPE),
    "ADDRESS_VERIFICATION_FAILURE": ("the postal code did not match the card issuer's records",
                                     "The customer can try again with the postal code of "
                                     "their billing address."),
    "INVALID_POSTAL_CODE": ("the postal code is not valid", _RETYPE),
    "CARD_EXPIRED": ("the card has expired", _ANOTHER),
    "INVALID_EXPIRATION": ("the card's expiry date is not valid", _RETYPE),
    "BAD_EXPIRATION": ("the card's expiry date is missing or malformed", _RETYPE),
    "EXPIRATION_FAILURE": ("the card's expiry date is not valid or the card has expired",
                           _RETYPE),
    "INVALID_ACCOUNT": ("the card issuer could not find the card's account", _ASK_ISSUER),
    "INVALID_CARD": ("the card is not valid", _ANOTHER),
    "CARD_NOT_SUPPORTED": ("this card is not supported in this region or for this business",
                           _ANOTHER),
    "CARDHOLDER_INSUFFICIENT_PERMISSIONS": ("the card issuer restricts where this card can be "
                                            "used", _ANOTHER),
    "TRANSACTION_LIMIT": ("the amount is over or under what the card issuer allows for this "
                          "card", _ASK_ISSUER),
    "PAN_FAILURE": ("the card number is not valid", _RETYPE),
    "INVALID_PIN": ("the PIN entered was wrong", "The customer can try again with the right PIN."),
    "ALLOWABLE_PIN_TRIES_EXCEEDED": ("the PIN was entered wrongly too many times", _ASK_ISSUER),
    "VOICE_FAILURE": ("the card issuer asked for a phone authorisation", _ASK_ISSUER),
    "CHIP_INSERTION_REQUIRED": ("the card issuer requires the card's chip to be read",
                                "The customer can try again, inserting the card."),
    "MANUALLY_ENTERED_PAYMENT_NOT_SUPPORTED": ("the card issuer does not accept typed-in card "
                                               "details for this card", _ANOTHER),
    "PAYMENT_LIMIT_EXCEEDED": ("the payment is over the business's Square payment limit",
                               "The business can check its Square payment limits."),
    "GIFT_CARD_AVAILABLE_AMOUNT": ("the gift card's balance is too low for this payment",
                                   _ANOTHER),
}
# dispute.reason (Square's DisputeReason), as the end of "Reason: …".
DISPUTE_REASONS: dict[str, str] = {
    "AMOUNT_DIFFERS": "the cardholder says the amount charged differs from what they agreed to",
    "CANCELLED": "the cardholder says they cancelled the order",
    "DUPLICATE": "the cardholder says they were charged twice",
    "NO_KNOWLEDGE": "the cardholder does not recognise this payment",
    "NOT_AS_DESCRIBED": "the cardholder says the product or service was not as described",
    "NOT_RECEIVED": "the cardholder says they did not receive the product or service",
    "PAID_BY_OTHER_MEANS": "the cardholder says they paid another way",
    "CUSTOMER_REQUESTS_CREDIT": "the cardholder says a refund or credit they were promised was "
                                "not given",
    "EMV_LIABILITY_SHIFT": "the card's chip was not used, so the liability for fraud shifted "
                           "to the business",
}
# dispute.state -> (name, sentence after "The cardholder's bank …" / what happened)
_DISPUTE_STATES: dict[str, tuple[str, str]] = {
    "INQUIRY_EVIDENCE_REQUIRED": ("Payment inquiry", "The cardholder's bank asked for information "
                                  "about the {amount} payment. This is not a dispute yet: no "
                                  "money has been taken back."),
    "INQUIRY_PROCESSING": ("Payment inquiry", "The cardholder's bank is reviewing the information "
                           "given about the {amount} payment. This is not a dispute yet."),
    "INQUIRY_CLOSED": ("Payment inquiry closed", "The cardholder's bank closed its inquiry about "
                       "the {amount} payment."),
    "EVIDENCE_REQUIRED": ("Payment disputed", "The cardholder disputed the {amount} payment with "
                          "their bank."),
    "PROCESSING": ("Payment disputed", "The cardholder's bank is reviewing the evidence for the "
                   "disputed {amount} payment."),
    "WON": ("Dispute won", "The dispute over the {amount} payment was decided in the business's "
            "favour."),
    "LOST": ("Dispute lost", "The dispute over the {amount} payment was decided in the "
             "cardholder's favour: the money goes back to them."),
    "ACCEPTED": ("Dispute accepted", "The business accepted the dispute over the {amount} "
                 "payment: the money goes back to the cardholder."),
}
# payment status -> (name, sentence, the card timeline's field for that moment)
_PAYMENT_STATES: dict[str, tuple[str, str, str | None]] = {
    "APPROVED": ("Payment authorised", "A payment of {amount} was authorised{by}; it has not been "
                 "completed (captured) yet.", "authorized_at"),
    "COMPLETED": ("Payment completed", "Payment of {amount} completed{by}.", "captured_at"),
    "CANCELED": ("Payment canceled", "The payment of {amount}{by} was canceled: no money was "
                 "taken.", "voided_at"),
    "FAILED": ("Payment failed", "Payment of {amount}{by} failed", None),
}
_REFUND_STATES: dict[str, tuple[str, str]] = {
    "PENDING": ("Refund pending", "A refund of {amount} was started; it is pending."),
    "COMPLETED": ("Payment refunded", "{amount} of the payment was refunded."),
    "FAILED": ("Refund failed", "Refunding {amount} of the payment failed."),
    "REJECTED": ("Refund rejected", "Refunding {amount} of the payment was rejected."),
}
_ORDER_STATES = {"OPEN": ("Order created", "was created"),
                 "COMPLETED": ("Order completed", "was completed"),
                 "CANCELED": ("Order canceled", "was canceled")}
_BRANDS = {"VISA": "Visa", "MASTERCARD": "Mastercard", "AMERICAN_EXPRESS": "American Express",
           "DISCOVER": "Discover", "DISCOVER_DINERS": "Diners Club", "JCB": "JCB",
           "CHINA_UNIONPAY": "UnionPay", "SQUARE_GIFT_CARD": "Square gift card",
           "INTERAC": "Interac", "EFTPOS": "eftpos", "FELICA": "FeliCa", "EBT": "EBT"}


@dataclass(frozen=True, slots=True)
class SquareConfig:
    """``source_name``: how the timeline names the source."""

    source_name: str = "Square"

    def __post_init__(self) -> None:
        if not self.source_name.strip():
            raise ValueError("square.configure(source_name=...): must not be empty")


def configure(**options: Any) -> Transform:
    """A Square transform with these options (SquareConfig's fields, by keyword)."""
    config = SquareConfig(**options)

    def square_events(event: Any, meta: EventMeta) -> list[Activity | Link] | Filtered:
        return _activities(event, meta, config)

    square_events.config = config  # type: ignore[attr-defined]  # for tests and tools
    return square_events


# ---- reading an event ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str  # "payment.updated"
    obj: dict[str, Any]  # data.object.<payment|refund|dispute|order_updated|customer>
    id: str  # the object's id
    raw: dict[str, Any]
    meta: EventMeta
    source: Source

    def system(self) -> Actor:
        return Actor(id=self.source.id, name=self.source.name, type="system")

    def where(self) -> str:
        return f"Square {self.kind} {clip(self.id, 60)}"

    def when(self, *fields: str | None) -> datetime:
        """The first of the object's ``fields`` present, else the event's created_at, else the
        Kafka message's time."""
        for field in fields:
            value = self.obj.get(field) if field else None
            if isinstance(value, str) and value.strip():
                return parse_time(value, f"data.object.{field}")
        created = self.raw.get("created_at")
        if isinstance(created, str) and created.strip():
            return parse_time(created, "created_at")
        if self.meta.timestamp is not None:
            return self.meta.timestamp
        raise TransformError(f"{self.where()} has no time and its Kafka message has no timestamp")


def _activities(event: Any, meta: EventMeta, config: SquareConfig) -> list[Activity | Link] | Filtered:
    kind = _event_type(event)
    entry = _BUILDERS.get(kind)
    if entry is None:
        return Filtered("event_type_not_shown",
                        f"square: {clip(kind, 100)} is not shown on the timeline")
    wrapper, build = entry
    return build(_read_event(event, kind, wrapper, meta, config))


def _event_type(event: Any) -> str:
    if not isinstance(event, dict):
        raise TransformError(f"not a Square webhook: expected a JSON object (got {json_kind(event)})")
    if (foreign := misrouted(event, "square", "a Square webhook")) is not None:
        raise TransformError(foreign)
    kind = event.get("type")
    if not isinstance(kind, str) or not kind.strip() or not isinstance(event.get("data"), dict):
        raise TransformError("not a Square webhook: no `type`/`data` (a Square webhook has a "
                             "type like \"payment.updated\" and data.object)")
    return kind.strip().lower()


def _read_event(event: dict[str, Any], kind: str, wrapper: str, meta: EventMeta,
                config: SquareConfig) -> _Event:
    data = event["data"]
    obj = _obj(_obj(data, "object"), wrapper)
    if not obj:
        raise TransformError(f"Square {kind} event {_id(event, 'event_id')} has no "
                             f"data.object.{wrapper}")
    object_id = _id(obj, "order_id" if wrapper.startswith("order_") else "id") \
        or _id(obj, "dispute_id") or _id(data, "id")
    if object_id is None:
        raise TransformError(f"Square {kind} event has no data.object.{wrapper}.id")
    merchant = _id(event, "merchant_id")
    return _Event(kind, obj, object_id, event, meta,
                  Source(name=config.source_name, id=merchant or meta.topic))


# ---- payments -----------------------------------------------------------------------------------


def _payment(ev: _Event) -> list[Activity | Link] | Filtered:
    status = (_str(ev.obj, "status") or "").upper()
    links = _payment_links(ev)
    state = _PAYMENT_STATES.get(status)
    if state is None:  # PENDING and anything new: nothing to show, maybe something to learn
        return links or Filtered("status_not_shown", f"square: payment status "
                                                     f"{clip(status or 'none', 40)} is not shown")
    name, sentence, moment = state
    amount = _payment_amount(ev)
    method = _card(ev.obj)
    context: dict[str, Any] = {"Amount": money(*amount), "Status": status.lower()}
    if method:
        context["Payment method"] = method
    description = sentence.format(amount=money(*amount), by=f" ({method})" if method else "")
    if status == "FAILED":
        description += _failure(ev, context)
    _add_ids(ev, context)
    contact = _payment_contact(ev)
    # the customer paid (or tried to); a cancellation voids an authorisation: the business's or
    # Square's doing, not the customer's
    actor = ev.system() if status == "CANCELED" else _customer(ev, contact)
    timeline = _obj(_obj(ev.obj, "card_details"), "card_payment_timeline")
    when = _time(timeline, moment) or ev.when("updated_at", "created_at")
    return [_activity(ev, name, description, actor, contact, context, when,
                      ActivityObject("payment", ev.id, _receipt(ev)),
                      f"square:payment:{ev.id}:{status}"), *links]


def _payment_amount(ev: _Event) -> tuple[Decimal, str]:
    """What the buyer paid: ``total_money`` (the amount and any tip), else ``amount_money``."""
    for key in ("total_money", "amount_money"):
        if (amount := _money(ev, ev.obj, key)) is not None:
            return amount
    raise TransformError(f"{ev.where()} has no amount_money")


def _failure(ev: _Event, context: dict[str, Any]) -> str:
    """The end of "Payment of … failed": the first card error's code in words, else its detail,
    else that Square did not say; the codes and details stay in the context."""
    errors = [e for e in _list(_obj(ev.obj, "card_details"), "errors") if isinstance(e, dict)]
    codes = [c for e in errors if (c := _str(e, "code"))]
    if codes:
        context["Error codes"] = clip(", ".join(codes), 200)
    if details := [d for e in errors if (d := _str(e, "detail"))]:
        context["Square's detail"] = clip("; ".join(details), 500)
    known = next((PAYMENT_ERRORS[c.upper()] for c in codes if c.upper() in PAYMENT_ERRORS), None)
    if known:
        context["Failure reason"] = known[0][:1].upper() + known[0][1:]
        context["What the customer can do"] = known[1]
        return f": {known[0]}. {known[1]}"
    if codes:
        return f": {clip(humanize(codes[0].lower()), 100)}."
    return " (Square did not say why)."


def _payment_contact(ev: _Event) -> Contact:
    email = _email(ev.obj.get("buyer_email_address"), ev)
    if email:
        return Contact(email=email)
    refs = tuple(r for r in (vendor_ref("square", "payment", ev.id),
                             vendor_ref("square", "customer", _id(ev.obj, "customer_id")),
                             vendor_ref("square", "order", _id(ev.obj, "order_id"))) if r)
    if not refs:
        raise TransformError(f"{ev.where()} names no buyer email, payment, customer or order")
    return Contact(refs=refs)


def _payment_links(ev: _Event) -> list[Activity | Link]:
    """The payment (and its order, its customer) → the buyer's email; without one, the payment
    and the order → the customer."""
    email = _email(ev.obj.get("buyer_email_address"), ev)
    payment_ref = vendor_ref("square", "payment", ev.id)
    customer_ref = vendor_ref("square", "customer", _id(ev.obj, "customer_id"))
    order_ref = vendor_ref("square", "order", _id(ev.obj, "order_id"))
    if email:
        who = Contact(email=email)
        return [Link(ref, contact=who) for ref in (payment_ref, order_ref, customer_ref) if ref]
    target = customer_ref or payment_ref
    return [Link(ref, alias_of=target) for ref in (payment_ref, order_ref)
            if ref and target and ref != target]


# ---- refunds, disputes, orders, customers -------------------------------------------------------


def _refund(ev: _Event) -> list[Activity | Link] | Filtered:
    status = (_str(ev.obj, "status") or "").upper()
    state = _REFUND_STATES.get(status)
    if state is None:
        return Filtered("status_not_shown", f"square: refund status {clip(status or 'none', 40)} "
                                            "is not shown")
    amount = _money(ev, ev.obj, "amount_money")
    if amount is None:
        raise TransformError(f"{ev.where()} has no amount_money")
    payment = _id(ev.obj, "payment_id")
    refund_ref = vendor_ref("square", "refund", ev.id)
    payment_ref = vendor_ref("square", "payment", payment)
    contact = Contact(refs=tuple(r for r in (refund_ref, payment_ref) if r))
    if not contact.refs:
        raise TransformError(f"{ev.where()} names no refund or payment id")
    name, sentence = state
    description = sentence.format(amount=money(*amount))
    context: dict[str, Any] = {"Refunded amount": money(*amount), "Status": status.lower()}
    if reason := _str(ev.obj, "reason"):
        context["Refund reason"] = clip(reason, 300)
        description += f" Reason given: {clip(reason, 300).rstrip('. ')}."
    context["Refund ID"] = ev.id
    if payment:
        context["Payment ID"] = payment
    links = [Link(refund_ref, alias_of=payment_ref)] if refund_ref and payment_ref else []
    return [_activity(ev, name, description, ev.system(), contact, context,
                      ev.when("updated_at", "created_at"),
                      ActivityObject("payment", payment) if payment else ActivityObject(
                          "refund", ev.id), f"square:refund:{ev.id}:{status}"), *links]


def _dispute(ev: _Event) -> list[Activity | Link] | Filtered:
    state = (_str(ev.obj, "state") or "").upper()
    entry = _DISPUTE_STATES.get(state)
    if entry is None:
        return Filtered("status_not_shown", f"square: dispute state {clip(state or 'none', 40)} "
                                            "is not shown")
    amount = _money(ev, ev.obj, "amount_money")
    shown = money(*amount) if amount else "an amount Square did not state"
    payment = _id(_obj(ev.obj, "disputed_payment"), "payment_id")
    dispute_ref = vendor_ref("square", "dispute", ev.id)
    payment_ref = vendor_ref("square", "payment", payment)
    contact = Contact(refs=tuple(r for r in (payment_ref, dispute_ref) if r))
    name, sentence = entry
    description = sentence.format(amount=shown)
    context: dict[str, Any] = {"Disputed amount": shown, "State": humanize(state.lower())}
    description += _dispute_reason(ev, context)
    if state in ("INQUIRY_EVIDENCE_REQUIRED", "EVIDENCE_REQUIRED") and (
            due := _day(ev.obj.get("due_at"))):
        description += f" A response is due by {due}."
        context["Response due by"] = due
    context["Dispute ID"] = ev.id
    if payment:
        context["Payment ID"] = payment
    # the cardholder opens it through their bank; the decision is the bank's (or the business's)
    decided = state in ("WON", "LOST", "ACCEPTED", "INQUIRY_CLOSED")
    actor = ev.system() if decided else _customer(ev, contact)
    links = [Link(dispute_ref, alias_of=payment_ref)] if dispute_ref and payment_ref else []
    return [_activity(ev, name, description, actor, contact, context,
                      ev.when("updated_at", "created_at"), ActivityObject("dispute", ev.id),
                      f"square:dispute:{ev.id}:{state}"), *links]


def _dispute_reason(ev: _Event, context: dict[str, Any]) -> str:
    """The description's ' Reason: ….' (the reason also goes in the context), or ''."""
    code = _str(ev.obj, "reason")
    if not code:
        return ""
    reason = DISPUTE_REASONS.get(code.upper(), clip(humanize(code.lower()), 200))
    context["Dispute reason"] = reason[:1].upper() + reason[1:]
    context["Dispute reason code"] = clip(code, 60)
    return f" Reason: {reason}."


def _order(ev: _Event) -> list[Activity | Link] | Filtered:
    """order.created / order.updated carry a summary (id, state, times), not the order: the
    activity names the order's id, and the order's payment teaches its contact."""
    state = (_str(ev.obj, "state") or "").upper()
    entry = _ORDER_STATES.get(state)
    if entry is None:  # DRAFT, or a state Square adds later
        return Filtered("status_not_shown", f"square: order state {clip(state or 'none', 40)} "
                                            "is not shown")
    order_ref = vendor_ref("square", "order", ev.id)
    if order_ref is None:
        raise TransformError(f"{ev.where()}: the order id is not usable as a reference")
    name, happened = entry
    context = {"Status": state.lower(), "Order ID": ev.id}
    if version := ev.obj.get("version"):
        context["Version"] = str(version)
    when = ev.when("updated_at" if ev.kind.endswith("updated") else "created_at", "created_at")
    return [Activity(name=name, contact=Contact(refs=(order_ref,)), actor=ev.system(),
                     source=ev.source, timestamp=when,
                     description=f"Square order {clip(ev.id, 60)} {happened}.",
                     object=ActivityObject("order", ev.id), context=context,
                     key=f"square:order:{ev.id}:{state}")]


def _customer_links(ev: _Event) -> list[Activity | Link] | Filtered:
    """customer.created / customer.updated: not for the timeline, but who square:customer:<id> is."""
    contact = Contact(email=_email(ev.obj.get("email_address"), ev),
                      phone=_email(ev.obj.get("phone_number"), ev))
    ref = vendor_ref("square", "customer", ev.id)
    if contact.identifier() is None or ref is None:
        return Filtered("nothing_to_learn", f"square: {ev.kind} {clip(ev.id, 60)} has no email "
                                            "or phone")
    return [Link(ref, contact=contact)]


_BUILDERS: dict[str, tuple[str, Callable[[_Event], list[Activity | Link] | Filtered]]] = {
    "payment.created": ("payment", _payment),
    "payment.updated": ("payment", _payment),
    "refund.created": ("refund", _refund),
    "refund.updated": ("refund", _refund),
    "dispute.created": ("dispute", _dispute),
    "dispute.state.changed": ("dispute", _dispute),
    "dispute.state.updated": ("dispute", _dispute),
    "order.created": ("order_created", _order),
    "order.updated": ("order_updated", _order),
    "customer.created": ("customer", _customer_links),
    "customer.updated": ("customer", _customer_links),
}


# ---- shared pieces ------------------------------------------------------------------------------


def _activity(ev: _Event, name: str, description: str, actor: Actor, contact: Contact,
              context: dict[str, Any], when: datetime, obj: ActivityObject, key: str) -> Activity:
    return Activity(name=name, contact=contact, actor=actor, source=ev.source, timestamp=when,
                    description=description, object=obj, context=context, key=key)


def _customer(ev: _Event, contact: Contact) -> Actor:
    identifier = contact.identifier()
    shown = identifier[1] if identifier else None
    customer_id = _id(ev.obj, "customer_id")
    return Actor(id=customer_id or shown or contact.refs[0], name=shown or "Customer")


def _add_ids(ev: _Event, context: dict[str, Any]) -> None:
    context["Payment ID"] = ev.id
    for label, key in (("Order ID", "order_id"), ("Customer ID", "customer_id"),
                       ("Location ID", "location_id")):
        if value := _id(ev.obj, key):
            context[label] = value
    if receipt := _receipt(ev):
        context["Receipt"] = receipt


def _receipt(ev: _Event) -> str | None:
    url = _str(ev.obj, "receipt_url")
    return clip(url, 500) if url and url.startswith("https://") else None


def _card(payment: dict[str, Any]) -> str | None:
    """``"Visa ending in 1111"``, or the source type in words (``"cash"``, ``"wallet"``)."""
    card = _obj(_obj(payment, "card_details"), "card")
    if card:
        brand = _str(card, "card_brand") or "Card"
        shown = _BRANDS.get(brand.upper(), clip(humanize(brand.lower()), 40))
        last4 = _str(card, "last_4")
        return f"{shown} ending in {clip(last4, 4)}" if last4 else shown
    source = _str(payment, "source_type")
    return clip(humanize(source.lower()), 40) if source and source != "CARD" else None


def _str(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return (value.strip() or None) if isinstance(value, str) else None


def _obj(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _list(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _id(obj: Any, key: str) -> str | None:
    value = _str(obj, key)
    return value if value and len(value) <= _MAX_ID else None


def _money(ev: _Event, obj: dict[str, Any], key: str) -> tuple[Decimal, str] | None:
    """``{"amount": 1000, "currency": "USD"}`` (minor units) as an exact amount; None when
    absent. A refund's processing fee may be negative; the amounts shown here never are."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TransformError(f"{ev.where()}: {key} must be an object (got {json_kind(value)})")
    minor, code = value.get("amount"), value.get("currency")
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TransformError(f"{ev.where()}: {key}.amount must be an integer in minor units "
                             f"(got {minor!r:.40})")
    if minor < 0:
        raise TransformError(f"{ev.where()}: {key}.amount is negative ({minor})")
    if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha()):
        raise TransformError(f"{ev.where()}: {key}.currency {code!r:.40} is not a currency code")
    return minor_to_major(minor, code), code.upper()


def _email(value: Any, ev: _Event) -> str | None:
    """A contact detail as Square sent it, refused (never cleaned) when it could not be one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise TransformError(f"{ev.where()}: a contact detail must be a string "
                             f"(got {json_kind(value)})")
    value = value.strip()
    if len(value) > 254 or clean_text(value) != value:
        raise TransformError(f"{ev.where()}: contact detail {value[:60]!r} is too long or "
                             "contains control characters; fix the producer")
    return value


def _time(obj: dict[str, Any], key: str | None) -> datetime | None:
    value = obj.get(key) if key else None
    if not isinstance(value, str) or not value.strip():
        return None
    return parse_time(value, f"card_payment_timeline.{key}")


def _day(value: Any) -> str | None:
    """An optional time as ``2020-03-04 00:00 UTC``; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return f"{parse_time(value, 'time'):%Y-%m-%d %H:%M} UTC"
    except TransformError:
        return None


square_activity = configure()
