"""Built-in transform for Stripe webhook events (what the agent sees: docs/vendors.md).

One event, one activity, keyed ``stripe:<event id>`` (``evt_…``: Stripe sends the same id on
every retry), linked to the payment in Stripe's dashboard (``/test/`` when not ``livemode``):

==============================  ==================================  ============================
event type                      name                                actor
==============================  ==================================  ============================
payment_intent.succeeded        Payment succeeded                   the customer
payment_intent.payment_failed   Payment failed                      the customer (their attempt)
charge.succeeded                Payment succeeded                   the customer
charge.failed                   Payment failed                      the customer (their attempt)
charge.refunded                 Payment refunded / partly refunded  Stripe (system)
charge.dispute.created          Payment disputed                    the customer (their bank)
checkout.session.completed      Checkout completed                  the customer
invoice.payment_failed          Invoice payment failed              Stripe (system)
==============================  ==================================  ============================

Any other type is filtered (None). Amounts are minor units converted with Stripe's own exponents,
which differ from ISO 4217 for a few currencies (``STRIPE_EXPONENTS``). The contact is the
customer's email (billing details, receipt email, checkout/invoice customer email), else their
phone, else, when configured, ``unique_external_id`` built from the Stripe customer id::

    # mycompany/transforms.py, then ``transform: mycompany.transforms:stripe_events``
    from transforms import stripe
    stripe_events = stripe.configure(external_id="stripe:{customer_id}")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from transforms._envelope import clip, event_type, humanize, ident, reason_text
from transforms.activity import Activity, ActivityObject, Actor, Contact, Source
from transforms.event import EventMeta, Transform, TransformError
from transforms.money import money
from transforms.payments import DISPUTE_REASONS, FAILURE_REASONS
from transforms.timefmt import parse_time

__all__ = ["STRIPE_EXPONENTS", "StripeConfig", "configure", "stripe_activity", "stripe_amount"]

# Stripe's "zero-decimal" and "three-decimal" currencies (docs.stripe.com/currencies); all others
# are two-decimal in Stripe's API. Where this differs from ISO 4217: ISK is zero-decimal in ISO but
# two-decimal in Stripe's API (amount 500 is 5 ISK), MGA the reverse; HUF and TWD are charged with
# two decimals (Stripe only pays them out as zero-decimal). UGX is zero-decimal in both.
STRIPE_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
         "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "JOD", "KWD", "OMR", "TND"), 3),
}
_DASHBOARD = "https://dashboard.stripe.com/"
_MAX_ID = 255  # an id longer than this is not a Stripe id; it would also bloat the key and body
_BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express",
           "american express": "American Express", "discover": "Discover", "diners": "Diners Club",
           "diners club": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay",
           "cartes_bancaires": "Cartes Bancaires", "eftpos_au": "eftpos", "interac": "Interac"}


def stripe_amount(minor: int, currency: str) -> Decimal:
    """Stripe minor units to a major-unit Decimal with Stripe's exponent: (3897, "usd") -> 38.97,
    (500, "jpy") -> 500, (1500, "kwd") -> 1.500, (500, "isk") -> 5.00."""
    return Decimal(minor).scaleb(-STRIPE_EXPONENTS.get(currency.upper(), 2))


@dataclass(frozen=True, slots=True)
class StripeConfig:
    """``external_id``: a template for ``unique_external_id`` when an event has no customer email
    or phone, ``{customer_id}`` being the Stripe customer (``cus_…``); None (default) rejects such
    events instead. ``source_name``: how the timeline names the source."""

    external_id: str | None = None
    source_name: str = "Stripe"

    def __post_init__(self) -> None:
        if self.external_id is not None and "{customer_id}" not in self.external_id:
            raise ValueError(
                f"stripe.configure(external_id={self.external_id!r}): the template must contain "
                "{customer_id}, e.g. 'stripe:{customer_id}'"
            )
        if not self.source_name.strip():
            raise ValueError("stripe.configure(source_name=...): must not be empty")


def configure(*, external_id: str | None = None, source_name: str = "Stripe") -> Transform:
    """A Stripe transform with these options (see StripeConfig). Assign the result to a module
    attribute and name it by import path in the subscription file; it stays a pure function."""
    config = StripeConfig(external_id=external_id, source_name=source_name)

    def stripe_events(event: Any, meta: EventMeta) -> Activity | None:
        return _activity(event, meta, config)

    stripe_events.config = config  # type: ignore[attr-defined]  # for tests and tools
    return stripe_events


stripe_activity = configure()


def _activity(event: Any, meta: EventMeta, config: StripeConfig) -> Activity | None:
    kind = event_type(event)
    build = _BUILDERS.get(kind)
    if build is None:
        return None
    ev = _read_event(event, meta, kind, config)
    name, description, actor, context, obj = build(ev)
    return Activity(name=name, contact=ev.person.contact, actor=actor, source=ev.source,
                    timestamp=ev.timestamp, description=description, object=obj,
                    context=context, key=f"stripe:{ev.id}")


# ---- reading an event ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Person:
    contact: Contact
    actor: Actor
    name: str | None  # "Testing Stripe"; None when the event does not say


@dataclass(frozen=True, slots=True)
class _Event:
    id: str
    kind: str
    obj: dict[str, Any]  # data.object
    obj_id: str
    live: bool
    timestamp: datetime
    source: Source
    person: _Person

    def system(self) -> Actor:
        return Actor(id=self.source.id, name=self.source.name, type="system")

    def who(self) -> str:
        return self.person.name or "The customer"

    def dashboard(self, section: str, object_id: str) -> str:
        return f"{_DASHBOARD}{'' if self.live else 'test/'}{section}/{quote(object_id, safe='')}"


def _read_event(event: dict[str, Any], meta: EventMeta, kind: str, config: StripeConfig) -> _Event:
    event_id = _id(event, "id", "id", f"Stripe {kind} event")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise TransformError(f"Stripe {kind} event {event_id} has no data.object")
    obj_id = _id(obj, "id", "data.object.id", f"Stripe {kind} event {event_id}")
    created = event.get("created")
    if created is not None:
        timestamp = parse_time(created, "created")
    elif meta.timestamp is not None:
        timestamp = meta.timestamp
    else:
        raise TransformError(f"Stripe event {event_id} has no 'created' time and its Kafka "
                             "message has no timestamp")
    # The link opens the object, so the object's mode decides; a legacy object may not say.
    live = next((m for m in (obj.get("livemode"), event.get("livemode")) if isinstance(m, bool)),
                True)
    account = _str(event, "account")  # Connect: the connected account the event belongs to
    source = Source(name=config.source_name, id=clip(account or meta.topic, _MAX_ID))
    return _Event(event_id, kind, obj, obj_id, live, timestamp, source,
                  _read_person(obj, kind, obj_id, config))


def _read_person(obj: dict[str, Any], kind: str, obj_id: str, config: StripeConfig) -> _Person:
    """Who the event is about, from wherever this object type keeps the customer's details."""
    views: list[dict[str, Any]] = []  # dicts with email/phone/name, best first
    charge = _latest_charge(obj)
    if kind.startswith("charge.dispute"):
        evidence = _obj(obj, "evidence")
        views.append({"email": _str(evidence, "customer_email_address"),
                      "name": _str(evidence, "customer_name")})
        charge = _obj(obj, "charge")  # only when the webhook expanded it
    elif kind.startswith("checkout.session"):
        details = _obj(obj, "customer_details")
        views += [details, {"email": _str(obj, "customer_email")}]
    elif kind.startswith("invoice"):
        views.append({"email": _str(obj, "customer_email"), "phone": _str(obj, "customer_phone"),
                      "name": _str(obj, "customer_name")})
    else:
        views += [_obj(obj, "billing_details"), {"email": _str(obj, "receipt_email")}]
    error = _obj(obj, "last_payment_error")
    views += [_obj(charge, "billing_details"), {"email": _str(charge, "receipt_email")},
              _obj(_obj(error, "payment_method"), "billing_details"), _obj(obj, "shipping"),
              _obj(charge, "shipping"), {"name": _str(_obj(obj, "card"), "name")}]
    email = next((v for view in views if (v := _str(view, "email"))), None)
    phone = next((v for view in views if (v := _str(view, "phone"))), None)
    name = next((v for view in views if (v := _str(view, "name"))), None)
    customer_id = _plain_id(obj.get("customer")) or _plain_id(charge.get("customer"))
    external = None
    if config.external_id is not None and customer_id:
        external = config.external_id.replace("{customer_id}", customer_id)
    contact = Contact(email=_bounded(email, "email", 254), phone=_bounded(phone, "phone", 50),
                      unique_external_id=_bounded(external, "external id", _MAX_ID))
    identifier = contact.identifier()
    if identifier is None:
        hint = (f"the Stripe customer {customer_id} could be the contact: configure "
                "stripe.configure(external_id='stripe:{customer_id}')" if customer_id
                else "Stripe sent no customer id either")
        raise TransformError(f"Stripe {kind} {obj_id} has no customer email or phone; {hint}")
    name = clip(name, 200) if name else None
    return _Person(contact, Actor(id=customer_id or identifier[1], name=name or identifier[1]), name)


def _latest_charge(obj: dict[str, Any]) -> dict[str, Any]:
    """The PaymentIntent's latest charge when the payload carries it (``charges.data`` before API
    2022-11-15, or an expanded ``latest_charge``); ``{}`` otherwise."""
    latest = obj.get("latest_charge")
    if isinstance(latest, dict):
        return latest
    charges = _obj(obj, "charges").get("data")
    if isinstance(charges, list) and charges and isinstance(charges[0], dict):
        return charges[0]  # Stripe lists newest first
    return {}


# ---- the activities -----------------------------------------------------------------------------

_Built = tuple[str, str, Actor, dict[str, Any], ActivityObject]


@dataclass(frozen=True, slots=True)
class _Money:
    amount: Decimal
    currency: str

    def shown(self, amount: Decimal | None = None) -> str:
        return money(self.amount if amount is None else amount, self.currency)


def _payment(ev: _Event, status: str) -> tuple[_Money, dict[str, Any], ActivityObject]:
    """Amount, the context every payment activity shares, and the payment as object."""
    paid = _money(ev, ev.obj, "amount")
    payment_id = _payment_id(ev)
    context: dict[str, Any] = {"Amount": paid.shown(), "Status": status}
    method = _method(ev.obj) or _method(_latest_charge(ev.obj)) or _method(
        _obj(_obj(ev.obj, "last_payment_error"), "payment_method"))
    if method:
        context["Payment method"] = method
    if payment_id:
        context["Payment ID"] = payment_id
    description = _str(ev.obj, "description")
    if description:
        context["Description"] = clip(description, 300)
    receipt = _str(ev.obj, "receipt_url") or _str(_latest_charge(ev.obj), "receipt_url")
    if receipt:
        context["Receipt"] = clip(receipt, 500)
    if payment_id is None:  # a dispute whose payment Stripe did not name
        return paid, context, ActivityObject("dispute", ev.obj_id, ev.dashboard("disputes", ev.obj_id))
    return paid, context, ActivityObject("payment", payment_id, ev.dashboard("payments", payment_id))


def _succeeded(ev: _Event) -> _Built:
    paid, context, obj = _payment(ev, "succeeded")
    received = _minor(ev.obj, "amount_received")
    if received:  # what was captured, when the intent says (it can be less than requested)
        paid = _Money(stripe_amount(received, paid.currency), paid.currency)
        context["Amount"] = paid.shown()
    by = f" ({context['Payment method']})" if "Payment method" in context else ""
    return ("Payment succeeded", f"Payment of {paid.shown()} succeeded{by}.",
            ev.person.actor, context, obj)


def _failed(ev: _Event) -> _Built:
    paid, context, obj = _payment(ev, "failed")
    error = _obj(ev.obj, "last_payment_error")
    charge = ev.obj if ev.kind.startswith("charge") else _latest_charge(ev.obj)
    outcome = _obj(charge, "outcome")
    if _str(outcome, "type") in ("authorized", "manual_review"):
        outcome = {}  # the network approved this charge: its outcome explains nothing here
    code = _str(error, "code") or _str(charge, "failure_code")
    decline = _str(error, "decline_code") or _str(outcome, "reason")
    message = (_str(error, "message") or _str(charge, "failure_message")
               or _str(outcome, "seller_message"))
    known = next((FAILURE_REASONS[c.lower()] for c in (decline, code)
                  if c and c.lower() in FAILURE_REASONS), None)
    reason = known or (reason_text(message) if message else None) or (
        clip(humanize(code), 100) if code else None)
    if reason:
        context["Failure reason"] = reason[:1].upper() + reason[1:]
    for label, value in (("Failure code", code), ("Decline code", decline)):
        if value:
            context[label] = clip(value, 100)
    if message:
        context["Processor message"] = clip(message, 500)
    return ("Payment failed",
            f"Payment of {paid.shown()} failed" + (f": {reason}." if reason else "."),
            ev.person.actor, context, obj)


def _refunded(ev: _Event) -> _Built:
    paid, context, obj = _payment(ev, "refunded")
    refunded = _minor(ev.obj, "amount_refunded")
    back = paid.amount if refunded is None else stripe_amount(refunded, paid.currency)
    partly = back < paid.amount
    refunds = _obj(ev.obj, "refunds").get("data")
    reason = _str(refunds[0], "reason") if isinstance(refunds, list) and refunds else None
    because = f": {reason_text(reason)}" if reason else ""
    context["Status"] = "partly refunded" if partly else "refunded"
    context["Refunded amount"] = paid.shown(back)
    if reason:
        context["Refund reason"] = clip(humanize(reason), 300)
    if partly:
        description = f"{paid.shown(back)} of the {paid.shown()} payment was refunded{because}."
    else:
        description = f"The {paid.shown()} payment was refunded in full{because}."
    return ("Payment partly refunded" if partly else "Payment refunded", description,
            ev.system(), context, obj)


def _disputed(ev: _Event) -> _Built:
    disputed, context, obj = _payment(ev, "disputed")
    code = _str(ev.obj, "reason")
    reason = (DISPUTE_REASONS.get(code.lower()) or clip(humanize(code), 300)) if code else None
    due_text = _when(_obj(ev.obj, "evidence_details").get("due_by"))
    description = f"{ev.who()} disputed the {disputed.shown()} payment with their bank."
    if reason:
        description += f" Reason: {reason}."
        context["Dispute reason"] = reason[:1].upper() + reason[1:]
    if code:
        context["Dispute code"] = clip(code, 100)
    status = _str(ev.obj, "status")
    if status:
        context["Dispute status"] = clip(humanize(status), 100)
    if due_text:
        description += f" Evidence is due by {due_text}."
        context["Evidence due by"] = due_text
    context["Dispute ID"] = ev.obj_id
    context["Dispute link"] = ev.dashboard("disputes", ev.obj_id)
    return "Payment disputed", description, ev.person.actor, context, obj


def _checkout_completed(ev: _Event) -> _Built:
    currency = _currency(ev.obj, required=False)
    total = _minor(ev.obj, "amount_total")
    shown = None
    if total is not None and currency:  # a setup-mode session has neither
        shown = money(stripe_amount(total, currency), currency)
    status = _str(ev.obj, "payment_status") or "unknown"
    mode = _str(ev.obj, "mode")
    context: dict[str, Any] = {}
    if shown:
        context["Amount"] = shown
    context["Payment status"] = clip(humanize(status), 100)
    if mode:
        context["Mode"] = clip(mode, 100)
    context["Checkout session ID"] = ev.obj_id
    for label, key in (("Subscription", "subscription"), ("Invoice", "invoice")):
        if value := _plain_id(ev.obj.get(key)):
            context[label] = value
    payment_id = _plain_id(ev.obj.get("payment_intent"))
    for_amount = f" for {shown}" if shown else ""
    if status == "paid":
        description = f"{ev.who()} completed checkout and paid{' ' + shown if shown else ''}."
    elif status == "no_payment_required":
        description = f"{ev.who()} completed checkout (no payment required)."
    else:
        description = f"{ev.who()} completed checkout{for_amount}; the payment is not complete yet."
    if payment_id:
        context["Payment ID"] = payment_id
        obj = ActivityObject("payment", payment_id, ev.dashboard("payments", payment_id))
    else:
        obj = ActivityObject("checkout session", ev.obj_id)
    return "Checkout completed", description, ev.person.actor, context, obj


def _invoice_failed(ev: _Event) -> _Built:
    currency = _currency(ev.obj, required=False) or _line_currency(ev.obj)
    due = _minor(ev.obj, "amount_due")
    if due is None:
        due = _minor(ev.obj, "total")  # legacy invoices
    if due is None:
        raise TransformError(f"Stripe {ev.kind} {ev.obj_id} has no amount_due")
    shown = money(stripe_amount(due, currency), currency)
    number = _str(ev.obj, "number")
    label = f"invoice {clip(number, 60)}" if number else "an invoice"
    context: dict[str, Any] = {"Amount due": shown, "Status": "payment failed"}
    if number:
        context["Invoice number"] = clip(number, 60)
    description = f"Payment of {shown} for {label} failed."
    attempts = ev.obj.get("attempt_count")
    if isinstance(attempts, int) and not isinstance(attempts, bool) and 0 < attempts < 1000:
        context["Attempts"] = attempts
    retry_text = _when(ev.obj.get("next_payment_attempt"))
    if retry_text:
        description += f" Stripe will try again on {retry_text}."
        context["Next attempt"] = retry_text
    if hosted := _str(ev.obj, "hosted_invoice_url"):
        context["Invoice page"] = clip(hosted, 500)
    context["Invoice ID"] = ev.obj_id
    obj = ActivityObject("invoice", ev.obj_id, ev.dashboard("invoices", ev.obj_id))
    return "Invoice payment failed", description, ev.system(), context, obj


_BUILDERS: dict[str, Callable[[_Event], _Built]] = {
    "payment_intent.succeeded": _succeeded,
    "payment_intent.payment_failed": _failed,
    "charge.succeeded": _succeeded,
    "charge.failed": _failed,
    "charge.refunded": _refunded,
    "charge.dispute.created": _disputed,
    "checkout.session.completed": _checkout_completed,
    "invoice.payment_failed": _invoice_failed,
}


# ---- small readers: lenient for optional fields, strict (TransformError) for essential ones ----


def _str(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, str):
        return value.strip() or None
    return None


def _obj(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _plain_id(value: Any) -> str | None:
    """A related object's id: a string, or the ``id`` of an expanded object; None otherwise."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str) and 0 < len(value.strip()) <= _MAX_ID:
        return value.strip()
    return None


def _id(obj: dict[str, Any], key: str, where: str, what: str) -> str:
    value = ident(obj, key, where)
    if value is None:
        raise TransformError(f"{what} has no {where}")
    if len(value) > _MAX_ID:
        raise TransformError(f"{where}: {len(value)} characters is too long for an id")
    return value


def _bounded(value: str | None, what: str, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        raise TransformError(f"customer {what} is {len(value)} characters long (at most {limit})")
    return value


def _minor(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _currency(obj: dict[str, Any], required: bool = True) -> str:
    value = obj.get("currency")
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.upper()
    if not required:
        return ""
    raise TransformError(
        f"data.object.currency: {clip(repr(value), 60)} is not a currency code like \"usd\"")


def _line_currency(invoice: dict[str, Any]) -> str:
    """Invoices before 2014 had no currency of their own: take their first line's plan's."""
    lines = _obj(invoice, "lines")
    for key in ("data", "subscriptions"):
        first = lines.get(key)
        if isinstance(first, list) and first and isinstance(first[0], dict):
            for holder in (first[0], _obj(first[0], "plan"), _obj(first[0], "price")):
                if code := _currency(holder, required=False):
                    return code
    return _currency(invoice)  # raises, naming the missing field


def _when(value: Any) -> str | None:
    """An optional epoch time as ``2024-05-23 23:59 UTC``; None when absent or unreadable."""
    if value is None:
        return None
    try:
        return f"{parse_time(value, 'time'):%Y-%m-%d %H:%M} UTC"
    except TransformError:
        return None


def _money(ev: _Event, obj: dict[str, Any], key: str) -> _Money:
    minor = obj.get(key)
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TransformError(f"Stripe {ev.kind} {ev.obj_id}: data.object.{key} must be an integer "
                             f"amount in minor units (got {minor!r})"[:300])
    currency = _currency(obj)
    return _Money(stripe_amount(minor, currency), currency)


def _payment_id(ev: _Event) -> str | None:
    """The id the dashboard's payments page opens: the PaymentIntent, else the charge."""
    if ev.kind.startswith("payment_intent"):
        return ev.obj_id
    return _plain_id(ev.obj.get("payment_intent")) or (
        ev.obj_id if ev.kind in ("charge.succeeded", "charge.failed", "charge.refunded")
        else _plain_id(ev.obj.get("charge")))


def _method(obj: dict[str, Any]) -> str | None:
    """``"Visa ending in 4242"``, ``"sepa debit"``: from payment_method_details, a PaymentMethod,
    or the ``card``/``source`` of pre-2019 charges."""
    details = _obj(obj, "payment_method_details") or obj
    kind = _str(details, "type")
    card = _obj(details, "card") or _obj(obj, "card") or _obj(obj, "source")
    if card:
        brand = _str(card, "brand") or _str(card, "type") or "Card"
        shown = _BRANDS.get(brand.lower(), clip(brand, 40))
        last4 = _str(card, "last4")
        return f"{shown} ending in {clip(last4, 4)}" if last4 else shown
    return clip(humanize(kind), 60) if kind and kind != "card" else None
