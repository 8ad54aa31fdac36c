"""Built-in transform for Stripe webhook events (what the agent sees: docs/vendors.md).

One event, one activity, keyed ``stripe:<event id>`` (``evt_…``: Stripe sends the same id on
every retry), linked to the payment in Stripe's dashboard (``/test/`` when not ``livemode``). A
payment attempt's outcome is keyed on the attempt instead, ``stripe:charge:<ch_…>:<outcome>``:
its ``payment_intent.*`` and ``charge.*`` events are one fact, shown once.

==============================  ==================================  ============================
event type                      name                                actor
==============================  ==================================  ============================
payment_intent.succeeded        Payment succeeded                   the customer
payment_intent.payment_failed   Payment failed                      the customer (their attempt)
charge.succeeded                Payment succeeded (``captured:      the customer
                                false``: Payment authorised)
charge.failed                   Payment failed                      the customer (their attempt)
charge.refunded                 Payment refunded / partly refunded  Stripe (system)
charge.dispute.created          Payment disputed / Payment inquiry  the customer (their bank)
checkout.session.completed      Checkout completed                  the customer
invoice.payment_failed          Invoice payment failed              Stripe (system)
customer.created / .updated     no activity: Links only             (teaches the directory)
==============================  ==================================  ============================

Any other type is ``Filtered("event_type_not_shown")``; another vendor's payload is rejected as a
misrouted topic. A failure reads as Stripe documents its decline code, what happened and what the
customer can do (``STRIPE_DECLINES``). Amounts are minor units converted with
Stripe's own exponents, which differ from ISO 4217 for a few currencies (``STRIPE_EXPONENTS``).

The contact is the customer's email (billing details, receipt email, checkout/invoice customer
email), else their phone. Many events carry neither, only ids: then the activity's contact is the
vendor refs it names (``stripe:cus_…``, ``stripe:ch_…``, ``stripe:pi_…``), which the pipeline
resolves through the contact directory. Every event also returns the ``Link``s it teaches: a
customer's email/phone (``stripe:cus_…`` → contact, from customer events and from any event that
carries both), and which customer or contact a charge, payment intent, invoice or dispute belongs
to (``stripe:ch_…`` → ``stripe:cus_…``). ``configure(external_id=…)`` keeps the older fallback (a
``unique_external_id`` made from the customer id) for accounts whose contacts really carry it::

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

from transforms._envelope import clip, humanize, ident, json_kind, reason_text
from transforms._sniff import misrouted
from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.contract import clean_text, vendor_ref
from transforms.event import EventMeta, Filtered, Transform, TransformError
from transforms.money import money
from transforms.payments import DISPUTE_REASONS
from transforms.timefmt import parse_time

__all__ = ["STRIPE_DECLINES", "STRIPE_EXPONENTS", "StripeConfig", "configure", "stripe_activity",
           "stripe_amount"]

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
# What each code means and what the customer can do, as Stripe documents them
# (docs.stripe.com/declines/codes: decline codes; docs.stripe.com/error-codes: the card error codes
# a failed payment carries without one). Shown as "Payment of 25.00 USD failed: <what>. <next>".
# Codes Stripe says not to explain to the customer (lost or stolen cards, suspected fraud, block
# lists) are worded so that an agent reading them aloud accuses nobody; the raw code stays in the
# context.
_NO_REASON = "the card issuer declined it without giving a reason"
_ASK_ISSUER = "The customer can ask their card issuer why, or use another payment method."
_NOT_TO_SHARE = ("the card was declined for a reason Stripe advises not to share with the "
                 "customer: tell them only that the card was declined")
_ANOTHER_CARD = "The customer can use another card or payment method."
_RETYPE = "The customer can try again, entering the card details exactly as on the card."
STRIPE_DECLINES: dict[str, tuple[str, str]] = {
    "approve_with_id": ("the card issuer could not authorise the payment",
                        "The customer can try again; if it fails again, they can ask their card "
                        "issuer."),
    "authentication_required": ("the bank asked the customer to confirm the payment (3-D "
                                "Secure) and it was not confirmed",
                                "The customer can try again and complete the bank's confirmation "
                                "step; if it is declined again, they can ask their card issuer."),
    "call_issuer": (_NO_REASON, _ASK_ISSUER),
    "card_declined": ("the card was declined", _ASK_ISSUER),
    "card_not_supported": ("the card does not support this type of purchase",
                           "The customer can ask their card issuer whether the card can be used "
                           "for this type of purchase, or use another payment method."),
    "card_velocity_exceeded": ("the customer has reached the balance, credit limit or "
                               "transaction limit available on the card",
                               "The customer can ask their card issuer, or use another payment "
                               "method."),
    "currency_not_supported": ("the card does not support this currency",
                               "The customer can ask their card issuer whether the card can pay "
                               "in this currency, or use another payment method."),
    "do_not_honor": (_NO_REASON, _ASK_ISSUER),
    "do_not_try_again": (_NO_REASON, _ASK_ISSUER),
    "duplicate_transaction": ("a payment with the same amount and card was made very recently",
                              "Check whether the earlier payment went through before the "
                              "customer tries again."),
    "expired_card": ("the card has expired", _ANOTHER_CARD),
    "fraudulent": (_NOT_TO_SHARE, _ASK_ISSUER),
    "generic_decline": ("the card was declined, without a specific reason (possibly by a "
                        "payment rule)", _ASK_ISSUER),
    "incorrect_cvc": ("the card's security code (CVC) is incorrect", _RETYPE),
    "incorrect_number": ("the card number is incorrect", _RETYPE),
    "incorrect_pin": ("the PIN entered is incorrect", "The customer can try again with the "
                                                      "correct PIN."),
    "incorrect_zip": ("the billing postal code is incorrect",
                      "The customer can try again with the billing postal code their card "
                      "issuer has on file."),
    "insufficient_funds": ("the card has insufficient funds to complete the purchase",
                           "The customer can use another payment method."),
    "invalid_account": ("the card, or the account it is connected to, is not valid",
                        "The customer can ask their card issuer to check that the card works."),
    "invalid_amount": ("the amount is not valid or is more than the card allows",
                       "If the amount is right, the customer can ask their card issuer whether "
                       "they can pay that much."),
    "invalid_cvc": ("the card's security code (CVC) is incorrect", _RETYPE),
    "invalid_expiry_month": ("the card's expiry month is incorrect", _RETYPE),
    "invalid_expiry_year": ("the card's expiry year is incorrect", _RETYPE),
    "invalid_number": ("the card number is incorrect", _RETYPE),
    "invalid_pin": ("the PIN entered is incorrect", "The customer can try again with the "
                                                    "correct PIN."),
    "issuer_not_available": ("the card issuer could not be reached to authorise the payment",
                             "The customer can try again; if it fails again, they can ask their "
                             "card issuer."),
    "lost_card": (_NOT_TO_SHARE, _ASK_ISSUER),
    "merchant_blacklist": (_NOT_TO_SHARE, _ASK_ISSUER),
    "new_account_information_available": ("the card, or the account it is connected to, is "
                                           "not valid any more", "The customer can ask their "
                                                                 "card issuer for their new "
                                                                 "card details."),
    "no_action_taken": (_NO_REASON, _ASK_ISSUER),
    "not_permitted": ("the card issuer does not permit this payment", _ASK_ISSUER),
    "offline_pin_required": ("the card needs its PIN", "The customer can try again, inserting "
                                                       "the card and entering the PIN."),
    "online_or_offline_pin_required": ("the card needs its PIN",
                                       "The customer can try again, inserting the card and "
                                       "entering the PIN."),
    "pickup_card": (_NOT_TO_SHARE, _ASK_ISSUER),
    "pin_try_exceeded": ("the allowed number of PIN tries was exceeded", _ANOTHER_CARD),
    "processing_error": ("an error occurred while processing the card",
                         "The customer can try again; if it fails again, later."),
    "reenter_transaction": ("the card issuer could not process the payment",
                            "The customer can try again; if it fails again, they can ask their "
                            "card issuer."),
    "restricted_card": (_NOT_TO_SHARE, _ASK_ISSUER),
    "revocation_of_all_authorizations": (_NO_REASON, _ASK_ISSUER),
    "revocation_of_authorization": (_NO_REASON, _ASK_ISSUER),
    "security_violation": (_NO_REASON, _ASK_ISSUER),
    "service_not_allowed": (_NO_REASON, _ASK_ISSUER),
    "stolen_card": (_NOT_TO_SHARE, _ASK_ISSUER),
    "stop_payment_order": (_NO_REASON, _ASK_ISSUER),
    "testmode_decline": ("a Stripe test card was used", "Real payments need a real card."),
    "transaction_not_allowed": (_NO_REASON, _ASK_ISSUER),
    "try_again_later": (_NO_REASON, "The customer can try again; if it keeps failing, they can "
                                    "ask their card issuer."),
    "withdrawal_count_limit_exceeded": ("the customer has reached the balance or credit limit "
                                        "available on the card",
                                        "The customer can use another payment method."),
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
    return Decimal(minor).scaleb(-_exponent(currency))


def _exponent(currency: str) -> int:
    return STRIPE_EXPONENTS.get(currency.upper(), 2)


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

    def stripe_events(event: Any, meta: EventMeta) -> list[Activity | Link] | Filtered:
        return _activity(event, meta, config)

    stripe_events.config = config  # type: ignore[attr-defined]  # for tests and tools
    return stripe_events


stripe_activity = configure()


def _activity(event: Any, meta: EventMeta, config: StripeConfig) -> list[Activity | Link] | Filtered:
    kind = _event_type(event)
    if kind in _CUSTOMER_EVENTS:
        return _customer_links(event, kind)
    build = _BUILDERS.get(kind)
    if build is None:
        return Filtered("event_type_not_shown", f"stripe: {clip(kind, 100)} is not shown on the "
                                                "timeline")
    ev = _read_event(event, meta, kind, config)
    name, description, actor, context, obj = build(ev)
    activity = Activity(name=name, contact=ev.person.contact, actor=actor, source=ev.source,
                        timestamp=ev.timestamp, description=description, object=obj,
                        context=context, key=_key(ev))
    return [activity, *ev.person.links]


# A card payment's outcome arrives twice when both payment_intent.* and charge.* are subscribed
# (payment_intent.succeeded and charge.succeeded; payment_intent.payment_failed and charge.failed):
# both are keyed on the charge, the attempt itself, so the ledger shows it once.
_ATTEMPT_OUTCOMES = {"payment_intent.succeeded": "succeeded", "charge.succeeded": "succeeded",
                     "payment_intent.payment_failed": "failed", "charge.failed": "failed"}


def _key(ev: _Event) -> str:
    """``stripe:charge:<ch_…>:succeeded|failed|authorized`` for a payment attempt whose charge the
    event names, else ``stripe:<evt_…>`` (the same on every retry of the event)."""
    outcome = _ATTEMPT_OUTCOMES.get(ev.kind)
    charge_id = _attempt_charge(ev) if outcome else None
    if charge_id is None:
        return f"stripe:{ev.id}"
    if ev.kind == "charge.succeeded" and ev.obj.get("captured") is False:
        outcome = "authorized"
    return f"stripe:charge:{charge_id}:{outcome}"


def _attempt_charge(ev: _Event) -> str | None:
    """The charge of this attempt: the charge itself, or the payment intent's failed charge
    (``last_payment_error.charge``), latest charge, or newest embedded charge."""
    if ev.kind.startswith("charge."):
        return ev.obj_id
    error_charge = _plain_id(_obj(ev.obj, "last_payment_error").get("charge"))
    return (error_charge or _plain_id(ev.obj.get("latest_charge"))
            or _plain_id(_latest_charge(ev.obj).get("id")))


def _event_type(event: Any) -> str:
    """The event's type, after making sure this is a Stripe event at all: a format no Stripe
    transform understands says so rather than failing on some field deep inside, and another
    vendor's payload is a misrouted topic, never a type to filter."""
    if not isinstance(event, dict):
        raise TransformError(f"not a Stripe event: expected a JSON object (got {json_kind(event)})")
    if (foreign := misrouted(event, "stripe", "a Stripe event")) is not None:
        raise TransformError(foreign)
    kind, wrapper = event.get("type"), event.get("object")
    if wrapper is not None and wrapper != "event":
        raise TransformError(
            f"not a Stripe event: its object is {clip(repr(wrapper), 60)}, not 'event' (a bare "
            "API object? produce the webhook event that wraps it, with type and data.object)")
    if not isinstance(kind, str) or not kind.strip():
        raise TransformError("not a Stripe event: no `type`" + (
            "" if wrapper == "event" else "/`object`") + " (a Stripe webhook event has "
            "\"object\": \"event\", a type like \"charge.succeeded\" and data.object)")
    return kind.strip()


_CUSTOMER_EVENTS = ("customer.created", "customer.updated")


def _customer_links(event: dict[str, Any], kind: str) -> list[Activity | Link] | Filtered:
    """customer.created/updated: not for the timeline, but they tell the directory who
    ``cus_…`` is. A customer without email or phone teaches nothing."""
    data = event.get("data")
    customer = data.get("object") if isinstance(data, dict) else None
    customer_id = _plain_id(_obj(data, "object").get("id")) if isinstance(customer, dict) else None
    if customer_id is None:
        raise TransformError(f"Stripe {kind} event has no data.object.id (the cus_… id)")
    contact = Contact(email=_bounded(_str(customer, "email"), "email", 254),
                      phone=_bounded(_str(customer, "phone"), "phone", 50))
    ref = vendor_ref("stripe", customer_id)
    if contact.identifier() is None or ref is None:
        return Filtered("nothing_to_learn", f"stripe: {kind} {clip(customer_id, 60)} has no "
                                            "email or phone")
    return [Link(ref, contact=contact)]


# ---- reading an event ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Person:
    contact: Contact  # an identifier, or only refs for the directory to resolve
    actor: Actor
    name: str | None  # "Testing Stripe"; None when the event does not say
    links: tuple[Link, ...]  # what this event teaches the contact directory


@dataclass(frozen=True, slots=True)
class _Event:
    raw: dict[str, Any]  # the whole event (previous_attributes lives beside data.object)
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
    return _Event(event, event_id, kind, obj, obj_id, live, timestamp, source,
                  _read_person(obj, kind, obj_id, config))


def _read_person(obj: dict[str, Any], kind: str, obj_id: str, config: StripeConfig) -> _Person:
    """Who the event is about, from wherever this object type keeps the customer's details, and
    the ids that name them."""
    charge = _obj(obj, "charge") if kind.startswith("charge.dispute") else _latest_charge(obj)
    views = _customer_views(obj, kind, charge)
    known = Contact(email=_bounded(_first(views, "email"), "email", 254),
                    phone=_bounded(_first(views, "phone"), "phone", 50))
    customer_id = _plain_id(obj.get("customer")) or _plain_id(charge.get("customer"))
    external = None
    if config.external_id is not None and customer_id:
        external = config.external_id.replace("{customer_id}", customer_id)
    refs = _refs(obj, kind, obj_id, customer_id, charge)
    contact = Contact(email=known.email, phone=known.phone,
                      unique_external_id=_bounded(external, "external id", _MAX_ID),
                      refs=refs if known.identifier() is None else ())
    identifier = contact.identifier()
    if identifier is None and not refs:
        raise TransformError(f"Stripe {kind} {obj_id} has no customer email or phone, and Stripe "
                             "sent no customer id either: nothing names the customer")
    name = _first(views, "name")
    name = clip(name, 200) if name else None
    shown = identifier[1] if identifier else None
    actor = Actor(id=customer_id or shown or refs[0], name=name or shown or "Customer")
    return _Person(contact, actor, name, _links(refs, customer_id, known))


def _customer_views(obj: dict[str, Any], kind: str, charge: dict[str, Any]) -> list[dict[str, Any]]:
    """Every place this object type keeps the customer's email/phone/name, best first (for a
    dispute, ``charge`` is only there when the webhook expanded it)."""
    if kind.startswith("charge.dispute"):
        evidence = _obj(obj, "evidence")
        views = [{"email": _str(evidence, "customer_email_address"),
                  "name": _str(evidence, "customer_name")}]
    elif kind.startswith("checkout.session"):
        views = [_obj(obj, "customer_details"), {"email": _str(obj, "customer_email")}]
    elif kind.startswith("invoice"):
        views = [{"email": _str(obj, "customer_email"), "phone": _str(obj, "customer_phone"),
                  "name": _str(obj, "customer_name")}]
    else:
        views = [_obj(obj, "billing_details"), {"email": _str(obj, "receipt_email")}]
    error = _obj(obj, "last_payment_error")
    # never the shipping details: a shipment's name and phone are the recipient's, often
    # someone else than the customer (a gift, a workplace)
    return [*views, _obj(charge, "billing_details"), {"email": _str(charge, "receipt_email")},
            _obj(_obj(error, "payment_method"), "billing_details"),
            {"name": _str(_obj(obj, "card"), "name")}]


def _first(views: list[dict[str, Any]], key: str) -> str | None:
    return next((v for view in views if (v := _str(view, key))), None)


def _refs(obj: dict[str, Any], kind: str, obj_id: str, customer_id: str | None,
          charge: dict[str, Any]) -> tuple[str, ...]:
    """The ids this event names the customer by, most direct first: the customer, then the
    charge and payment intent (a dispute names only these), then the invoice."""
    ids: list[str | None] = [customer_id]
    if kind.startswith("charge.dispute"):
        ids += [_plain_id(obj.get("charge")), _plain_id(obj.get("payment_intent"))]
    elif kind.startswith("charge."):
        ids += [obj_id, _plain_id(obj.get("payment_intent")), _plain_id(obj.get("invoice"))]
    elif kind.startswith("payment_intent."):
        ids += [obj_id, _plain_id(charge.get("id")), _plain_id(obj.get("latest_charge")),
                _plain_id(obj.get("invoice"))]
    elif kind.startswith("invoice."):
        ids += [obj_id, _plain_id(obj.get("charge")), _plain_id(obj.get("payment_intent"))]
    elif kind.startswith("checkout.session"):
        ids += [_plain_id(obj.get("payment_intent")), _plain_id(obj.get("invoice"))]
    refs: list[str] = []
    for value in ids:
        if (ref := vendor_ref("stripe", value)) and ref not in refs:
            refs.append(ref)
    return tuple(refs)


def _links(refs: tuple[str, ...], customer_id: str | None, known: Contact) -> tuple[Link, ...]:
    """What the event teaches: the customer's email/phone when it names both, and that every
    other id (charge, payment intent, invoice) belongs to that customer (or, for a guest
    without a customer object, to that email/phone)."""
    links: list[Link] = []
    customer_ref = vendor_ref("stripe", customer_id)
    if customer_ref and known.identifier() is not None:
        links.append(Link(customer_ref, contact=known))
    for ref in refs:
        if ref == customer_ref:
            continue
        if customer_ref:
            links.append(Link(ref, alias_of=customer_ref))
        elif known.identifier() is not None:
            links.append(Link(ref, contact=known))
    return tuple(links)


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
    if ev.kind == "charge.succeeded" and ev.obj.get("captured") is False:
        return _authorized(ev)
    paid, context, obj = _payment(ev, "succeeded")
    received = _minor(ev.obj, "amount_received")
    if received:  # what was captured, when the intent says (it can be less than requested)
        paid = _Money(stripe_amount(received, paid.currency), paid.currency)
        context["Amount"] = paid.shown()
    by = f" ({context['Payment method']})" if "Payment method" in context else ""
    return ("Payment succeeded", f"Payment of {paid.shown()} succeeded{by}.",
            ev.person.actor, context, obj)


def _authorized(ev: _Event) -> _Built:
    """A charge.succeeded that says ``captured: false``: the card was authorised, no money has
    moved yet (the capture, if any, comes as charge.captured / payment_intent.succeeded)."""
    paid, context, obj = _payment(ev, "authorized, not captured")
    by = f" ({context['Payment method']})" if "Payment method" in context else ""
    return ("Payment authorised",
            f"A payment of {paid.shown()} was authorised{by}; it has not been captured yet.",
            ev.person.actor, context, obj)


def _failed(ev: _Event) -> _Built:
    paid, context, obj = _payment(ev, "failed")
    failure = _read_failure(ev)
    reason, next_step = failure.explained()
    if reason:
        context["Failure reason"] = reason[:1].upper() + reason[1:]
    if next_step:
        context["What the customer can do"] = next_step
    for label, value in (("Failure code", failure.code), ("Decline code", failure.decline)):
        if value:
            context[label] = clip(value, 100)
    if failure.message:
        context["Processor message"] = clip(failure.message, 500)
    if (note := failure.informative_note()) and note != failure.message:
        context["Stripe's note"] = clip(note, 500)
    because = f": {reason}." if reason else "."
    return ("Payment failed",
            f"Payment of {paid.shown()} failed{because}" + (f" {next_step}" if next_step else ""),
            ev.person.actor, context, obj)


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why a payment failed, as Stripe's codes and messages say."""

    code: str | None  # the generic code (``card_declined``)
    decline: str | None  # the issuer's specific decline code (``insufficient_funds``)
    message: str | None  # the error's / charge's message (written for the customer)
    seller_message: str | None  # ``outcome.seller_message`` (written for the shop)

    def explained(self) -> tuple[str | None, str | None]:
        """What happened and what the customer can do: the issuer's decline code in Stripe's
        words; else Stripe's note when it says more than the codes (a payment Stripe blocked);
        else the generic code in words, the message, the code itself."""
        if (known := self._documented(self.decline)) is not None:
            return known
        if note := self.informative_note():
            return reason_text(note), None
        if (known := self._documented(self.code)) is not None:
            return known
        if self.message:
            return reason_text(self.message), None
        return (clip(humanize(self.code), 100) if self.code else None), None

    @staticmethod
    def _documented(code: str | None) -> tuple[str, str] | None:
        return STRIPE_DECLINES.get(code.lower()) if code else None

    def informative_note(self) -> str | None:
        """The seller message, unless it only repeats the code ("The bank returned the decline
        code `x`.") or says nothing ("… did not return any further details …")."""
        note = self.seller_message
        if not note or (self.decline and self.decline in note) or "further details" in note:
            return None
        return note


def _read_failure(ev: _Event) -> _Failure:
    error = _obj(ev.obj, "last_payment_error")
    charge = ev.obj if ev.kind.startswith("charge") else _latest_charge(ev.obj)
    outcome = _obj(charge, "outcome")
    if _str(outcome, "type") in ("authorized", "manual_review"):
        outcome = {}  # the network approved this charge: its outcome explains nothing here
    return _Failure(
        code=_str(error, "code") or _str(charge, "failure_code"),
        decline=_str(error, "decline_code") or _str(outcome, "reason"),
        message=_str(error, "message") or _str(charge, "failure_message"),
        seller_message=_str(outcome, "seller_message"))


def _refunded(ev: _Event) -> _Built:
    """charge.refunded fires for every refund and carries the charge's running total
    (``amount_refunded``): the activity says what *this* refund was, from the previous total
    (``previous_attributes``) or the newest refund in ``refunds.data``, and the total beside it."""
    paid, context, obj = _payment(ev, "refunded")
    refunded = _minor(ev.obj, "amount_refunded")
    total = paid.amount if refunded is None else stripe_amount(refunded, paid.currency)
    newest = _newest_refund(ev.obj)
    this = min(_this_refund(ev, paid, total, newest), total)
    earlier = total - this
    # the newest refund's reason is this refund's only when it is the one we describe
    describes_newest = _minor(newest, "amount") == int(this.scaleb(_exponent(paid.currency)))
    reason = _str(newest, "reason") if describes_newest else None
    partly = total < paid.amount
    context["Status"] = "partly refunded" if partly else "refunded"
    context["Refunded amount"] = paid.shown(this)
    if earlier:
        context["Refunded in total"] = paid.shown(total)
    if reason:
        context["Refund reason"] = clip(humanize(reason), 300)
    if describes_newest and (refund_id := _plain_id(newest.get("id"))):
        context["Refund ID"] = refund_id
    return ("Payment partly refunded" if partly else "Payment refunded",
            _refund_sentence(paid, this, total, reason), ev.system(), context, obj)


def _newest_refund(charge: dict[str, Any]) -> dict[str, Any]:
    """The newest refund in ``refunds.data`` (API versions that embed it; newest first)."""
    refunds = _obj(charge, "refunds").get("data")
    if isinstance(refunds, list) and refunds and isinstance(refunds[0], dict):
        return refunds[0]
    return {}


def _this_refund(ev: _Event, paid: _Money, total: Decimal, newest: dict[str, Any]) -> Decimal:
    """What this refund gave back: the running total minus the previous one, else the newest
    refund's amount, else the whole total."""
    refunded = _minor(ev.obj, "amount_refunded")
    before = _minor(_obj(_obj(ev.raw, "data"), "previous_attributes"), "amount_refunded")
    if before is not None and refunded is not None and 0 <= before < refunded:
        return stripe_amount(refunded - before, paid.currency)
    newest_minor = _minor(newest, "amount")
    if newest_minor is not None and newest_minor > 0:
        return stripe_amount(newest_minor, paid.currency)
    return total


def _refund_sentence(paid: _Money, this: Decimal, total: Decimal, reason: str | None) -> str:
    because = f": {reason_text(reason)}" if reason else ""
    earlier, partly = total - this, total < paid.amount
    if not earlier and not partly:
        return f"The {paid.shown()} payment was refunded in full{because}."
    if not earlier:
        return f"{paid.shown(this)} of the {paid.shown()} payment was refunded{because}."
    if partly:
        return (f"{paid.shown(this)} more of the {paid.shown()} payment was refunded"
                f"{because} ({paid.shown(total)} refunded in total).")
    return (f"The last {paid.shown(this)} of the {paid.shown()} payment was refunded"
            f"{because}: it is now refunded in full.")


# Inquiries (Stripe's "warning_*" statuses, e.g. Visa retrieval requests) are the bank asking
# questions before any dispute: no money has been taken back yet, and calling it a dispute would
# send an agent down the wrong path with the customer.
_INQUIRY_STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed")


def _disputed(ev: _Event) -> _Built:
    disputed, context, obj = _payment(ev, "disputed")
    code = _str(ev.obj, "reason")
    reason = (DISPUTE_REASONS.get(code.lower()) or clip(humanize(code), 300)) if code else None
    due_text = _when(_obj(ev.obj, "evidence_details").get("due_by"))
    status = _str(ev.obj, "status")
    inquiry = status in _INQUIRY_STATUSES
    if inquiry:
        context["Status"] = "inquiry"
        whose = "their" if ev.person.name is None else f"{ev.who()}'s"
        description = (f"{whose[:1].upper()}{whose[1:]} bank opened an inquiry about the "
                       f"{disputed.shown()} payment. This is not a dispute yet: no money has "
                       "been taken back.")
        if ev.person.name is None:
            description = description.replace("Their bank", "The customer's bank", 1)
    else:
        description = f"{ev.who()} disputed the {disputed.shown()} payment with their bank."
    if reason:
        description += f" Reason: {reason}."
        context["Dispute reason"] = reason[:1].upper() + reason[1:]
    if code:
        context["Dispute code"] = clip(code, 100)
    if status:
        context["Dispute status"] = clip(humanize(status), 100)
    if due_text:
        description += (f" A response is due by {due_text}." if inquiry
                        else f" Evidence is due by {due_text}.")
        context["Response due by" if inquiry else "Evidence due by"] = due_text
    context["Dispute ID"] = ev.obj_id
    context["Dispute link"] = ev.dashboard("disputes", ev.obj_id)
    return ("Payment inquiry" if inquiry else "Payment disputed"), description, \
        ev.person.actor, context, obj


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
    """A contact detail, refused (never cleaned: that would change who) when it is too long or
    carries control characters."""
    if value is not None and len(value) > limit:
        raise TransformError(f"customer {what} is {len(value)} characters long (at most {limit})")
    if value is not None and clean_text(value) != value:
        raise TransformError(f"customer {what} {value[:60]!r} contains control or "
                             "bidirectional-override characters; fix the producer")
    return value


def _minor(obj: dict[str, Any], key: str) -> int | None:
    """An optional minor-unit amount; None when absent, not an integer, or negative."""
    value = obj.get(key)
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


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
    if minor < 0:  # Stripe never sends one: a producer bug, not a payment to show as "succeeded"
        raise TransformError(f"Stripe {ev.kind} {ev.obj_id}: data.object.{key} is negative "
                             f"({minor}); Stripe amounts are never negative")
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
