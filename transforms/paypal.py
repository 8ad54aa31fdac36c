"""Built-in transform for PayPal webhooks (what the agent sees: docs/vendors.md).

PayPal POSTs ``{"id": "WH-…", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource_type":
"capture", "create_time": …, "resource": {…}}``; the resource is the REST API v2 object (a
capture, refund, authorization, order or dispute).

===============================  ==============================================  ===============
event_type                       name                                            actor
===============================  ==============================================  ===============
PAYMENT.CAPTURE.COMPLETED        Payment completed                               the buyer
PAYMENT.CAPTURE.DENIED           Payment denied (the processor's reason, words)  PayPal
PAYMENT.CAPTURE.REFUNDED         Payment refunded                                PayPal
PAYMENT.AUTHORIZATION.CREATED    Payment authorised                              the buyer
PAYMENT.AUTHORIZATION.VOIDED     Authorisation voided                            PayPal
CHECKOUT.ORDER.APPROVED          PayPal checkout approved                        the buyer
CUSTOMER.DISPUTE.CREATED         PayPal inquiry / Payment disputed (by stage)    the buyer
CUSTOMER.DISPUTE.RESOLVED        Dispute resolved (the outcome, in words)        PayPal
===============================  ==============================================  ===============

Other event types are ``Filtered("event_type_not_shown")``. Each activity is keyed by the fact,
``paypal:<resource type>:<id>:<what happened>`` (``paypal:capture:29Y…:completed``), so a retried
or resent webhook is one timeline entry. Amounts are PayPal's decimal strings, kept exact.

Contact: only ``CHECKOUT.ORDER.APPROVED`` carries the payer's email. Every other event names ids,
as refs for the contact directory: a capture its order (``supplementary_data.related_ids``, else
its ``up`` link) and authorization, a refund its capture, a dispute its captures
(``seller_transaction_id``), an authorization its order. Each event returns the Links that chain
them (refund → capture → order → the payer's email), so a later event finds its contact or waits
for the order's approval. The payee (``resource.payee``) is the merchant, never the contact.

The time is the resource's ``update_time`` (when its status last changed), else its
``create_time``, else the event's ``create_time``.
"""

from __future__ import annotations

import re
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
from transforms.money import money, parse_amount
from transforms.timefmt import parse_time

__all__ = ["DISPUTE_REASONS", "PROCESSOR_RESPONSES", "PayPalConfig", "configure",
           "paypal_activity"]

_MAX_ID = 255
_UP = re.compile(r"/v[12]/(?:payments|checkout)/(captures|authorizations|orders)/([A-Za-z0-9-]+)$")

# processor_response.response_code of a card payment (PayPal's "processor response codes"):
# what happened and what the buyer can do. The fraud and lost/stolen codes are worded so that an
# agent reading them aloud accuses nobody; the raw code stays in the context.
_ASK_ISSUER = "The buyer can ask their card issuer why, or pay another way."
_NOT_TO_SHARE = ("the card issuer declined it for a reason not to be shared with the buyer: tell "
                 "them only that the card was declined")
PROCESSOR_RESPONSES: dict[str, tuple[str, str]] = {
    "0500": ("the card issuer declined it without giving a reason (do not honor)", _ASK_ISSUER),
    "5100": ("the card issuer declined it without giving a reason", _ASK_ISSUER),
    "5110": ("the card's security code (CVV) was wrong",
             "The buyer can try again with the security code on the card."),
    "5120": ("the card has insufficient funds", "The buyer can pay another way."),
    "5140": ("the card account is closed", "The buyer can use another card."),
    "5180": ("the card is not valid or is restricted", _ASK_ISSUER),
    "5400": ("the card has expired", "The buyer can use another card."),
    "5650": ("the card issuer requires the bank's confirmation step (strong customer "
             "authentication)", "The buyer can try again and complete the bank's confirmation."),
    "5700": ("the card issuer does not permit this payment on this card", _ASK_ISSUER),
    "9500": (_NOT_TO_SHARE, _ASK_ISSUER),
    "9520": (_NOT_TO_SHARE, _ASK_ISSUER),
}

# The dispute's ``reason`` (PayPal Disputes API v1), as the end of "Reason: …".
DISPUTE_REASONS: dict[str, str] = {
    "MERCHANDISE_OR_SERVICE_NOT_RECEIVED": "the buyer says they did not receive the order",
    "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED": "the buyer says the order was not as described",
    "UNAUTHORISED": "the buyer says they did not authorise this payment",
    "CREDIT_NOT_PROCESSED": "the buyer says a refund or credit was not processed",
    "DUPLICATE_TRANSACTION": "the buyer says they were charged twice",
    "INCORRECT_AMOUNT": "the buyer says they were charged the wrong amount",
    "PAYMENT_BY_OTHER_MEANS": "the buyer says they paid another way",
    "CANCELED_RECURRING_BILLING": "the buyer says they were charged after cancelling",
    "PROBLEM_WITH_REMITTANCE": "a problem with the remittance",
    "OTHER": "no specific reason was given",
}
_OUTCOMES = {  # dispute_outcome.outcome_code, as what happened
    "RESOLVED_BUYER_FAVOUR": "resolved in the buyer's favour",
    "RESOLVED_SELLER_FAVOUR": "resolved in the seller's favour",
    "RESOLVED_WITH_PAYOUT": "resolved with a payout from PayPal to the buyer",
    "CANCELED_BY_BUYER": "cancelled by the buyer",
    "ACCEPTED": "accepted by the seller (the buyer is refunded)",
    "DENIED": "denied",
}
_STAGES = {"INQUIRY": "an inquiry (the buyer and the seller can still settle it)",
           "CHARGEBACK": "a chargeback through the buyer's card issuer",
           "PRE_ARBITRATION": "pre-arbitration", "ARBITRATION": "arbitration"}


@dataclass(frozen=True, slots=True)
class PayPalConfig:
    """``source_name``: how the timeline names the source."""

    source_name: str = "PayPal"

    def __post_init__(self) -> None:
        if not self.source_name.strip():
            raise ValueError("paypal.configure(source_name=...): must not be empty")


def configure(**options: Any) -> Transform:
    """A PayPal transform with these options (PayPalConfig's fields, by keyword)."""
    config = PayPalConfig(**options)

    def paypal_events(event: Any, meta: EventMeta) -> list[Activity | Link] | Filtered:
        return _activities(event, meta, config)

    paypal_events.config = config  # type: ignore[attr-defined]  # for tests and tools
    return paypal_events


# ---- reading an event ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str  # "PAYMENT.CAPTURE.COMPLETED"
    resource: dict[str, Any]
    id: str  # the resource's id
    timestamp: datetime
    source: Source

    def system(self) -> Actor:
        return Actor(id="paypal", name=self.source.name, type="system")

    def where(self) -> str:
        return f"PayPal {self.kind} {clip(self.id, 60)}"


def _activities(event: Any, meta: EventMeta, config: PayPalConfig) -> list[Activity | Link] | Filtered:
    kind = _event_type(event)
    build = _BUILDERS.get(kind)
    if build is None:
        return Filtered("event_type_not_shown",
                        f"paypal: {clip(kind, 100)} is not shown on the timeline")
    return build(_read_event(event, kind, meta, config))


def _event_type(event: Any) -> str:
    if not isinstance(event, dict):
        raise TransformError(f"not a PayPal webhook: expected a JSON object (got {json_kind(event)})")
    if (foreign := misrouted(event, "paypal", "a PayPal webhook")) is not None:
        raise TransformError(foreign)
    kind = event.get("event_type")
    if not isinstance(kind, str) or not kind.strip():
        raise TransformError("not a PayPal webhook: no `event_type` (a PayPal webhook has an "
                             "event_type like \"PAYMENT.CAPTURE.COMPLETED\" and a resource)")
    return kind.strip().upper()


def _read_event(event: dict[str, Any], kind: str, meta: EventMeta, config: PayPalConfig) -> _Event:
    resource = event.get("resource")
    if not isinstance(resource, dict):
        raise TransformError(f"PayPal {kind} event {_id(event, 'id')} has no resource object")
    key = "dispute_id" if kind.startswith("CUSTOMER.DISPUTE") else "id"
    resource_id = _id(resource, key)
    if resource_id is None:
        raise TransformError(f"PayPal {kind} event has no resource.{key}")
    return _Event(kind, resource, resource_id, _when(event, resource, meta, kind),
                  Source(name=config.source_name, id=meta.topic))


def _when(event: dict[str, Any], resource: dict[str, Any], meta: EventMeta, kind: str) -> datetime:
    """The resource's update_time (its last status change), else its create_time, else the
    event's create_time; the Kafka message's time only when the payload has none."""
    for obj, field in ((resource, "update_time"), (resource, "create_time"), (event, "create_time")):
        value = obj.get(field)
        if isinstance(value, str) and value.strip():
            return parse_time(value, field)
    if meta.timestamp is not None:
        return meta.timestamp
    raise TransformError(f"PayPal {kind} event has no create_time and its Kafka message has no "
                         "timestamp")


# ---- the activities -----------------------------------------------------------------------------


def _activity(ev: _Event, name: str, description: str, actor: Actor, contact: Contact,
              context: dict[str, Any], kind: str, happened: str) -> Activity:
    """``kind`` is the resource type (``capture``), ``happened`` what the key records."""
    return Activity(name=name, contact=contact, actor=actor, source=ev.source,
                    timestamp=ev.timestamp, description=description,
                    object=ActivityObject("payment" if kind != "dispute" else "dispute", ev.id),
                    context=context, key=f"paypal:{kind}:{ev.id}:{happened}")


def _refs_contact(ev: _Event, refs: list[str | None]) -> Contact:
    found = tuple(dict.fromkeys(r for r in refs if r))
    if not found:
        raise TransformError(f"{ev.where()} names no order, capture or payer")
    return Contact(refs=found)


def _buyer(contact: Contact) -> Actor:
    """The buyer, known here only by the ids the event names."""
    identifier = contact.identifier()
    shown = identifier[1] if identifier else None
    return Actor(id=shown or contact.refs[0], name=shown or "Buyer")


def _capture_completed(ev: _Event) -> list[Activity | Link]:
    amount = _required_money(ev, ev.resource, "amount")
    refs, links = _capture_refs(ev)
    contact = _refs_contact(ev, refs)
    context = _summary(ev, amount, "completed", "Capture ID")
    return [_activity(ev, "Payment completed", f"A PayPal payment of {money(*amount)} was "
                                               "completed.", _buyer(contact), contact, context,
                      "capture", "completed"), *links]


def _capture_denied(ev: _Event) -> list[Activity | Link]:
    amount = _required_money(ev, ev.resource, "amount")
    refs, links = _capture_refs(ev)
    contact = _refs_contact(ev, refs)
    context = _summary(ev, amount, "denied", "Capture ID")
    response = _obj(ev.resource, "processor_response")
    code = _str(response, "response_code")
    reason, next_step = PROCESSOR_RESPONSES.get(code or "", (None, None))
    if code:
        context["Processor response code"] = clip(code, 20)
    if reason:
        context["Failure reason"] = reason[:1].upper() + reason[1:]
    if next_step:
        context["What the buyer can do"] = next_step
    because = f": {reason}." if reason else " (PayPal did not say why)."
    description = f"PayPal denied the payment of {money(*amount)}{because}"
    return [_activity(ev, "Payment denied", description + (f" {next_step}" if next_step else ""),
                      ev.system(), contact, context, "capture", "denied"), *links]


def _capture_refunded(ev: _Event) -> list[Activity | Link]:
    """PAYMENT.CAPTURE.REFUNDED: the resource is the refund; its capture is in
    ``supplementary_data.related_ids`` or its ``up`` link."""
    amount = _required_money(ev, ev.resource, "amount")
    related = _obj(_obj(ev.resource, "supplementary_data"), "related_ids")
    capture = _id(related, "capture_id") or _linked(ev.resource, "captures")
    order = _id(related, "order_id")
    refund_ref = vendor_ref("paypal", "refund", ev.id)
    capture_ref = vendor_ref("paypal", "capture", capture)
    order_ref = vendor_ref("paypal", "order", order)
    contact = _refs_contact(ev, [refund_ref, capture_ref, order_ref])
    context = _summary(ev, amount, (_str(ev.resource, "status") or "completed").lower(), "Refund ID")
    if capture:
        context["Capture ID"] = capture
    description = f"{money(*amount)} of the PayPal payment was refunded."
    if note := _str(ev.resource, "note_to_payer"):
        context["Note to the buyer"] = clip(note, 300)
        description += f" The seller's note to the buyer: {clip(note, 300).rstrip('. ')}."
    links = [Link(refund_ref, alias_of=capture_ref)] if refund_ref and capture_ref else []
    if capture_ref and order_ref:
        links.append(Link(capture_ref, alias_of=order_ref))
    return [_activity(ev, "Payment refunded", description, ev.system(), contact, context,
                      "refund", (_str(ev.resource, "status") or "completed").lower()), *links]


def _authorization(ev: _Event) -> list[Activity | Link]:
    amount = _required_money(ev, ev.resource, "amount")
    order = _id(_obj(_obj(ev.resource, "supplementary_data"), "related_ids"), "order_id") \
        or _linked(ev.resource, "orders")
    auth_ref = vendor_ref("paypal", "authorization", ev.id)
    order_ref = vendor_ref("paypal", "order", order)
    contact = _refs_contact(ev, [auth_ref, order_ref])
    voided = ev.kind.endswith("VOIDED")
    context = _summary(ev, amount, "voided" if voided else "authorized", "Authorization ID")
    if voided:
        activity = _activity(ev, "Authorisation voided",
                             f"The PayPal authorisation of {money(*amount)} was voided: no money "
                             "will be taken.", ev.system(), contact, context, "authorization",
                             "voided")
    else:
        activity = _activity(ev, "Payment authorised",
                             f"A PayPal payment of {money(*amount)} was authorised; it has not "
                             "been captured yet.", _buyer(contact), contact, context,
                             "authorization", "created")
    links = [Link(auth_ref, alias_of=order_ref)] if auth_ref and order_ref else []
    return [activity, *links]


def _order_approved(ev: _Event) -> list[Activity | Link]:
    """The one event that names the payer: their email teaches the directory the order (and
    the payer id), so the order's captures, refunds and disputes find their contact."""
    payer = _obj(ev.resource, "payer")
    email = _contact_detail(payer, "email_address", ev)
    payer_id = _id(payer, "payer_id")
    order_ref = vendor_ref("paypal", "order", ev.id)
    payer_ref = vendor_ref("paypal", "payer", payer_id)
    contact = Contact(email=email) if email else _refs_contact(ev, [order_ref, payer_ref])
    name = _payer_name(payer)
    amount = _order_total(ev)
    context: dict[str, Any] = {}
    if amount:
        context["Amount"] = money(*amount)
    context.update({"Status": "approved", "Order ID": ev.id})
    if payer_id:
        context["Payer ID"] = payer_id
    what = f" of {money(*amount)}" if amount else ""
    description = (f"{name or 'The buyer'} approved the PayPal payment{what}; it has not been "
                   "captured yet.")
    actor = Actor(id=payer_id or email or contact.refs[0], name=name or email or "Buyer")
    activity = Activity(name="PayPal checkout approved", contact=contact, actor=actor,
                        source=ev.source, timestamp=ev.timestamp, description=description,
                        object=ActivityObject("order", ev.id), context=context,
                        key=f"paypal:order:{ev.id}:approved")
    return [activity, *_payer_links(order_ref, payer_ref, email)]


def _payer_links(order_ref: str | None, payer_ref: str | None,
                 email: str | None) -> list[Activity | Link]:
    """The order and the payer id → the payer's email; without one, the order → its payer."""
    if email:
        return [Link(ref, contact=Contact(email=email)) for ref in (order_ref, payer_ref) if ref]
    return [Link(order_ref, alias_of=payer_ref)] if order_ref and payer_ref else []


def _dispute(ev: _Event) -> list[Activity | Link]:
    amount = _money(ev, ev.resource, "dispute_amount")
    captures = [_id(t, "seller_transaction_id") for t in _list(ev.resource, "disputed_transactions")
                if isinstance(t, dict)]
    dispute_ref = vendor_ref("paypal", "dispute", ev.id)
    capture_refs = [vendor_ref("paypal", "capture", c) for c in captures]
    contact = _refs_contact(ev, [*capture_refs, dispute_ref])
    context = _dispute_context(ev, amount)
    resolved = ev.kind.endswith("RESOLVED")
    description = _resolved_sentence(ev, amount) if resolved else _opened_sentence(ev, amount)
    name = "Dispute resolved" if resolved else (
        "PayPal inquiry" if _str(ev.resource, "dispute_life_cycle_stage") == "INQUIRY"
        else "Payment disputed")
    links = [Link(dispute_ref, alias_of=ref) for ref in capture_refs[:1] if ref and dispute_ref]
    return [_activity(ev, name, description, ev.system() if resolved else _buyer(contact),
                      contact, context, "dispute", "resolved" if resolved else "created"),
            *links]


def _opened_sentence(ev: _Event, amount: tuple[Decimal, str] | None) -> str:
    stage = _str(ev.resource, "dispute_life_cycle_stage")
    what = f" over {money(*amount)}" if amount else ""
    if stage == "INQUIRY":
        text = (f"The buyer opened a PayPal inquiry{what}. This is not a chargeback: the buyer "
                "and the seller can still settle it.")
    else:
        text = f"The buyer opened a PayPal dispute{what}" + (
            f", at the stage of {_STAGES.get(stage, humanize(stage.lower()))}." if stage else ".")
    code = _str(ev.resource, "reason")
    if code:
        text += f" Reason: {DISPUTE_REASONS.get(code, clip(humanize(code.lower()), 200))}."
    if due := _day(ev.resource.get("seller_response_due_date")):
        text += f" A response is due by {due}."
    return text


def _resolved_sentence(ev: _Event, amount: tuple[Decimal, str] | None) -> str:
    code = _str(_obj(ev.resource, "dispute_outcome"), "outcome_code")
    what = f" over {money(*amount)}" if amount else ""
    outcome = _OUTCOMES.get(code or "", humanize(code.lower()) if code else None)
    return f"The PayPal dispute{what} was " + (f"{outcome}." if outcome else
                                              "resolved (PayPal did not say how).")


def _dispute_context(ev: _Event, amount: tuple[Decimal, str] | None) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if amount:
        context["Disputed amount"] = money(*amount)
    for label, value in (("Dispute status", _str(ev.resource, "status")),
                         ("Stage", _str(ev.resource, "dispute_life_cycle_stage"))):
        if value:
            context[label] = clip(humanize(value.lower()), 100)
    for label, value in (("Dispute reason code", _str(ev.resource, "reason")),
                         ("Outcome code", _str(_obj(ev.resource, "dispute_outcome"), "outcome_code"))):
        if value:
            context[label] = clip(value, 100)
    if due := _day(ev.resource.get("seller_response_due_date")):
        context["Response due by"] = due
    context["Dispute ID"] = ev.id
    return context


_BUILDERS: dict[str, Callable[[_Event], list[Activity | Link]]] = {
    "PAYMENT.CAPTURE.COMPLETED": _capture_completed,
    "PAYMENT.CAPTURE.DENIED": _capture_denied,
    "PAYMENT.CAPTURE.REFUNDED": _capture_refunded,
    "PAYMENT.AUTHORIZATION.CREATED": _authorization,
    "PAYMENT.AUTHORIZATION.VOIDED": _authorization,
    "CHECKOUT.ORDER.APPROVED": _order_approved,
    "CUSTOMER.DISPUTE.CREATED": _dispute,
    "CUSTOMER.DISPUTE.RESOLVED": _dispute,
}


def _capture_refs(ev: _Event) -> tuple[list[str | None], list[Activity | Link]]:
    """A capture's refs (itself, its order, its authorization) and the Links that chain them to
    the order, where the payer's email is learned."""
    related = _obj(_obj(ev.resource, "supplementary_data"), "related_ids")
    order = _id(related, "order_id") or _linked(ev.resource, "orders")
    authorization = _id(related, "authorization_id") or _linked(ev.resource, "authorizations")
    capture_ref = vendor_ref("paypal", "capture", ev.id)
    order_ref = vendor_ref("paypal", "order", order)
    auth_ref = vendor_ref("paypal", "authorization", authorization)
    target = order_ref or auth_ref
    links: list[Activity | Link] = []
    if capture_ref and target:
        links.append(Link(capture_ref, alias_of=target))
    if auth_ref and order_ref:
        links.append(Link(auth_ref, alias_of=order_ref))
    return [capture_ref, order_ref, auth_ref], links


def _summary(ev: _Event, amount: tuple[Decimal, str], status: str, id_label: str) -> dict[str, Any]:
    context: dict[str, Any] = {"Amount": money(*amount), "Status": status, id_label: ev.id}
    for label, key in (("Invoice ID", "invoice_id"), ("Custom ID", "custom_id")):
        if value := _str(ev.resource, key):
            context[label] = clip(value, 127)
    return context


# ---- small readers ------------------------------------------------------------------------------


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


def _linked(resource: dict[str, Any], kind: str) -> str | None:
    """The id in the resource's ``up`` link when it points at ``kind`` (``orders``,
    ``captures``, ``authorizations``): PayPal's own way to say what a capture or refund
    belongs to, present in every API version."""
    for link in _list(resource, "links"):
        if isinstance(link, dict) and _str(link, "rel") == "up":
            match = _UP.search(_str(link, "href") or "")
            if match and match.group(1) == kind:
                return match.group(2)
    return None


def _money(ev: _Event, obj: dict[str, Any], key: str) -> tuple[Decimal, str] | None:
    """``{"currency_code": "USD", "value": "100.00"}`` as an exact amount; None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TransformError(f"{ev.where()}: {key} must be an object (got {json_kind(value)})")
    code = value.get("currency_code")
    if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha()):
        raise TransformError(f"{ev.where()}: {key}.currency_code {code!r:.40} is not a currency code")
    raw = value.get("value")
    if not isinstance(raw, str):  # PayPal sends amounts as strings: a number may be rounded
        raise TransformError(f"{ev.where()}: {key}.value must be a decimal string like \"10.00\" "
                             f"(got {json_kind(raw)})")
    amount = parse_amount(raw, f"{key}.value")
    if amount < 0:
        raise TransformError(f"{ev.where()}: {key}.value {raw!r:.40} is negative")
    return amount, code.upper()


def _required_money(ev: _Event, obj: dict[str, Any], key: str) -> tuple[Decimal, str]:
    amount = _money(ev, obj, key)
    if amount is None:
        raise TransformError(f"{ev.where()} has no {key}")
    return amount


def _order_total(ev: _Event) -> tuple[Decimal, str] | None:
    """The order's total: its purchase units' amounts, when they share one currency."""
    amounts = [_money(ev, unit, "amount") for unit in _list(ev.resource, "purchase_units")
               if isinstance(unit, dict)]
    found = [a for a in amounts if a is not None]
    if not found or len({code for _, code in found}) != 1:
        return None
    return sum((value for value, _ in found), Decimal(0)), found[0][1]


def _payer_name(payer: dict[str, Any]) -> str | None:
    name = _obj(payer, "name")
    full = " ".join(p for p in (_str(name, "given_name"), _str(name, "surname")) if p)
    return clip(full, 200) if full else None


def _contact_detail(obj: dict[str, Any], key: str, ev: _Event) -> str | None:
    """An email as PayPal sent it, refused (never cleaned) when it could not be one."""
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise TransformError(f"{ev.where()}: payer.{key} must be a string (got {json_kind(value)})")
    value = value.strip()
    if len(value) > 254 or clean_text(value) != value:
        raise TransformError(f"{ev.where()}: payer.{key} {value[:60]!r} is too long or contains "
                             "control characters; fix the producer")
    return value


def _day(value: Any) -> str | None:
    """An optional time as ``2024-05-23 23:59 UTC``; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return f"{parse_time(value, 'time'):%Y-%m-%d %H:%M} UTC"
    except TransformError:
        return None


paypal_activity = configure()
