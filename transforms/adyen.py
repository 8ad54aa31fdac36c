"""Built-in transform for Adyen standard webhooks (what the agent sees: docs/vendors.md).

Adyen POSTs ``{"live": "false", "notificationItems": [{"NotificationRequestItem": {…}}, …]}``;
a message may hold several items, and each becomes its own activity (in order).

==========================  ===============================  ==================================
eventCode                   success "true" (or true)         success "false" (or false)
==========================  ===============================  ==================================
AUTHORISATION               Payment authorised; of 0: Card   Payment refused / Card verification
                            verified                         failed (the reason in words)
CAPTURE                     Payment captured                 Capture failed
REFUND                      Payment refunded                 Refund failed
CANCELLATION                Payment cancelled                Cancellation failed
REQUEST_FOR_INFORMATION     Payment inquiry (not a           (Adyen sends "true")
                            chargeback: no money taken)
NOTIFICATION_OF_CHARGEBACK  Chargeback opened (not debited)  (Adyen sends "true")
CHARGEBACK                  Payment charged back             (Adyen sends "true")
SECOND_CHARGEBACK           Chargeback defence declined      (Adyen sends "true")
CHARGEBACK_REVERSED         Chargeback reversed              (Adyen sends "true")
==========================  ===============================  ==================================

Other event codes are ``Filtered("event_type_not_shown")`` (a message with several items keeps
the ones shown). The key is ``adyen:<merchantAccountCode>:<pspReference>:<eventCode>:<success>``,
the combination Adyen documents as identifying a notification: a retried webhook is one fact.
The amount is ``amount.value`` in minor units with Adyen's exponents: ISO 4217's, but where
Adyen's currency table says it "differs from standard" (``ADYEN_EXPONENTS``).

Contact: ``additionalData.shopperEmail`` when the webhook's "include shopper details" setting
sends it. Without it the activity names the refs the item carries: ``adyen:psp:<pspReference>``,
``adyen:psp:<originalReference>`` (the payment a capture, refund, cancellation or chargeback
modifies), ``adyen:shopper:<shopperReference>`` and ``adyen:reference:<merchantReference>``
(your own order reference), for the contact directory to resolve. Every item also returns the
Links it teaches: a modification's psp → its original payment's psp, and, when the email is
there, every ref → that email.
"""

from __future__ import annotations

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

__all__ = ["ADYEN_EXPONENTS", "REFUSAL_REASONS", "AdyenConfig", "adyen_activity", "adyen_amount",
           "configure"]

# Adyen's minor units where its currency table (docs.adyen.com/development-resources/
# currency-codes) marks them "differs from standard"; every other currency: ISO 4217. Only these
# two were verified against that page; add any other it lists before relying on it.
ADYEN_EXPONENTS: dict[str, int] = {"CLP": 2, "CVE": 0}
_MAX_ID = 255
_CA = {True: "https://ca-live.adyen.com", False: "https://ca-test.adyen.com"}
@dataclass(frozen=True, slots=True)
class _Code:
    """How one eventCode reads: the name and sentence when ``success`` is true and when not
    (``{amount}`` is "101.00 EUR"), and whether the shopper (or their bank) is the actor; the
    merchant is the actor of captures, refunds and cancellations."""

    name: str
    failed_name: str
    happened: str
    failed: str
    by_shopper: bool = False


# A capture or refund may be for part of the payment: its amount is what the modification was
# for, never called the payment's. The dispute codes follow Adyen's dispute webhooks
# (docs.adyen.com/risk-management/disputes-api/dispute-notifications): a request for information
# and a notification of chargeback come before any money is taken back, so neither is called a
# chargeback. Adyen sends them (and CHARGEBACK) with success "true".
_EVENTS: dict[str, _Code] = {
    "AUTHORISATION": _Code("Payment authorised", "Payment refused",
                           "A payment of {amount} was authorised.",
                           "A payment of {amount} was refused", by_shopper=True),
    "CAPTURE": _Code("Payment captured", "Capture failed",
                     "{amount} of the payment was captured.",
                     "Capturing {amount} of the payment failed"),
    "REFUND": _Code("Payment refunded", "Refund failed",
                    "{amount} of the payment was refunded.",
                    "Refunding {amount} of the payment failed"),
    "CANCELLATION": _Code("Payment cancelled", "Cancellation failed",
                          "The payment ({amount}) was cancelled before it was captured.",
                          "Cancelling the payment ({amount}) failed"),
    "REQUEST_FOR_INFORMATION": _Code(
        "Payment inquiry", "Payment inquiry",
        "The shopper's bank asked for information about the payment ({amount}). This is not a "
        "chargeback: no money has been taken back.",
        "The shopper's bank asked for information about the payment ({amount})", by_shopper=True),
    "NOTIFICATION_OF_CHARGEBACK": _Code(
        "Chargeback opened", "Chargeback opened",
        "The shopper's bank opened a chargeback of {amount} of the payment. No money has been "
        "taken back yet; it can still be defended.",
        "The shopper's bank opened a chargeback of {amount} of the payment", by_shopper=True),
    "CHARGEBACK": _Code("Payment charged back", "Payment charged back",
                        "The shopper's bank charged back {amount} of the payment.",
                        "The shopper's bank charged back {amount} of the payment",
                        by_shopper=True),
    "SECOND_CHARGEBACK": _Code(
        "Chargeback defence declined", "Chargeback defence declined",
        "The shopper's bank declined the defence of the chargeback: {amount} of the payment stays "
        "charged back.",
        "The shopper's bank declined the defence of the chargeback ({amount})", by_shopper=True),
    "CHARGEBACK_REVERSED": _Code(
        "Chargeback reversed", "Chargeback reversed",
        "The chargeback of {amount} was reversed in the merchant's favour: the money comes back.",
        "The chargeback of {amount} was reversed"),
}
_DISPUTES = ("REQUEST_FOR_INFORMATION", "NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK",
             "SECOND_CHARGEBACK", "CHARGEBACK_REVERSED")

# Adyen's refusal reasons (docs.adyen.com/development-resources/refusal-reasons, the `reason` of a
# refused AUTHORISATION), as what happened and what the shopper can do. Adyen asks merchants not to
# show shoppers the details of a refusal; the fraud and blocked-card reasons are worded so that an
# agent reading them aloud accuses nobody. The raw reason stays in the context.
_NOT_TO_SHARE = ("the payment was refused for a reason not to be shared with the shopper: tell "
                 "them only that it was refused")
_ANOTHER = "The shopper can use another card or payment method."
_ASK_ISSUER = "The shopper can ask their card issuer why, or use another payment method."
_RETRY = "The shopper can try again later."
REFUSAL_REASONS: dict[str, tuple[str, str]] = {
    "refused": ("the card issuer refused it without giving a reason", _ASK_ISSUER),
    "referral": ("the card issuer asked to be contacted before authorising it", _ASK_ISSUER),
    "acquirer error": ("an error occurred at the card network or acquirer", _RETRY),
    "blocked card": (_NOT_TO_SHARE, _ANOTHER),
    "expired card": ("the card has expired", _ANOTHER),
    "invalid amount": ("the amount is not valid for this card", _ASK_ISSUER),
    "invalid card number": ("the card number is wrong or does not exist",
                            "The shopper can check the card number and try again."),
    "issuer unavailable": ("the card issuer could not be reached", _RETRY),
    "not supported": ("this card or payment method is not supported for this payment", _ANOTHER),
    "3d not authenticated": ("the bank's confirmation step (3-D Secure) failed or was not "
                             "completed", "The shopper can try again and complete the bank's "
                                          "confirmation step."),
    "not enough balance": ("the card does not have enough balance or credit", _ANOTHER),
    "acquirer fraud": (_NOT_TO_SHARE, _ANOTHER),
    "cancelled": ("the payment was cancelled before it was completed",
                  "The shopper can try again."),
    "shopper cancelled": ("the shopper cancelled the payment", "The shopper can try again."),
    "invalid pin": ("the PIN entered was wrong", "The shopper can try again with the right PIN."),
    "pin tries exceeded": ("the PIN was entered wrongly too many times", _ANOTHER),
    "pin validation not possible": ("the PIN could not be checked", _ANOTHER),
    "fraud": (_NOT_TO_SHARE, _ANOTHER),
    "not submitted": ("the payment was not submitted to the card issuer correctly", _RETRY),
    "fraud-cancelled": (_NOT_TO_SHARE, _ANOTHER),
    "transaction not permitted": ("the card issuer does not permit this payment on this card",
                                  _ASK_ISSUER),
    "cvc declined": ("the card's security code (CVC) was wrong",
                     "The shopper can try again, entering the security code on the card."),
    "restricted card": ("the card cannot be used for this payment (it is restricted)",
                        _ASK_ISSUER),
    "revocation of auth": ("the shopper withdrew their permission for recurring payments on "
                           "this card", "Ask the shopper for new payment details."),
    "declined non generic": ("the card issuer refused it for a reason it did not share",
                             _ASK_ISSUER),
    "withdrawal amount exceeded": ("the card's spending limit was reached", _ANOTHER),
    "withdrawal count exceeded": ("the card's limit on the number of payments was reached",
                                  _ANOTHER),
    "issuer suspected fraud": (_NOT_TO_SHARE, _ANOTHER),
    "avs declined": ("the billing address did not match the card issuer's records",
                     "The shopper can try again with the billing address their card issuer "
                     "has on file."),
    "authentication required": ("the card issuer requires the bank's confirmation step "
                                "(3-D Secure)", "The shopper can try again and complete the "
                                                "bank's confirmation step."),
}


@dataclass(frozen=True, slots=True)
class AdyenConfig:
    """``source_name``: how the timeline names the source. ``payment_links``: link each payment
    to Adyen's Customer Area (needs a login; off for merchants who don't use it)."""

    source_name: str = "Adyen"
    payment_links: bool = True


def configure(**options: Any) -> Transform:
    """An Adyen transform with these options (AdyenConfig's fields, by keyword)."""
    config = AdyenConfig(**options)

    def adyen_events(event: Any, meta: EventMeta) -> list[Activity | Link] | Filtered:
        return _activities(event, meta, config)

    adyen_events.config = config  # type: ignore[attr-defined]  # for tests and tools
    return adyen_events


def _activities(event: Any, meta: EventMeta, config: AdyenConfig) -> list[Activity | Link] | Filtered:
    if not isinstance(event, dict):
        raise TransformError(f"not an Adyen notification: expected a JSON object (got "
                             f"{json_kind(event)})")
    if (foreign := misrouted(event, "adyen", "an Adyen notification")) is not None:
        raise TransformError(foreign)
    items = event.get("notificationItems")
    if not isinstance(items, list):
        hint = (" (a bare NotificationRequestItem? produce the whole webhook body)"
                if "eventCode" in event else "")
        raise TransformError("not an Adyen notification: no `notificationItems` list" + hint)
    live = event.get("live") in ("true", True)  # the string, or a JSON boolean
    found: list[Activity | Link] = []
    skipped: list[str] = []
    for index, wrapper in enumerate(items):
        item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, dict) else None
        if not isinstance(item, dict):
            raise TransformError(f"Adyen notificationItems[{index}]: expected "
                                 "{\"NotificationRequestItem\": {…}}")
        code = item.get("eventCode")
        if not isinstance(code, str) or not code.strip():
            raise TransformError(f"Adyen notificationItems[{index}] has no eventCode")
        if code.strip().upper() not in _EVENTS:
            skipped.append(clip(code.strip(), 60))
            continue
        found += _item(item, index, code.strip().upper(), live, meta, config)
    if not found:
        shown = ", ".join(skipped) or "none"
        return Filtered("event_type_not_shown", f"adyen: {shown} is not shown on the timeline")
    return found


@dataclass(frozen=True, slots=True)
class _Item:
    """One notification item, read once: what every part of its activity needs."""

    where: str  # "Adyen notificationItems[0] (CAPTURE)", for error messages
    code: str  # the eventCode, upper case
    ok: bool  # success
    psp: str
    merchant: str | None
    original: str | None  # the payment a modification modifies
    reference: str | None  # the merchant's own reference
    shopper: str | None
    email: str | None
    amount: tuple[Decimal, str] | None
    reason: str | None
    method: str | None
    extra: dict[str, Any]  # additionalData

    @property
    def payment(self) -> str:
        return self.original or self.psp

    def refs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for r in (
            vendor_ref("adyen", "psp", self.original), vendor_ref("adyen", "psp", self.psp),
            vendor_ref("adyen", "shopper", self.shopper),
            vendor_ref("adyen", "reference", self.reference)) if r))


def _read_item(item: dict[str, Any], index: int, code: str) -> _Item:
    where = f"Adyen notificationItems[{index}] ({code})"
    psp = _id(item, "pspReference")
    if psp is None:
        raise TransformError(f"{where} has no pspReference")
    extra = _dict(item.get("additionalData"))
    return _Item(
        where=where, code=code, ok=_success(item.get("success"), where), psp=psp,
        merchant=_id(item, "merchantAccountCode"), original=_id(item, "originalReference"),
        reference=_id(item, "merchantReference"),
        shopper=_id(extra, "shopperReference") or _id(item, "shopperReference"),
        email=_email(extra.get("shopperEmail"), where), amount=_amount(item, where),
        reason=_str(item, "reason"), method=_str(item, "paymentMethod"), extra=extra)


def _success(value: Any, where: str) -> bool:
    """``success``: the string "true"/"false" of the standard webhook, or a JSON boolean (as
    Adyen's newer webhooks and many producers re-serialising it send it)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise TransformError(f"{where}: success must be \"true\" or \"false\" (got {value!r:.40})")


def _item(item: dict[str, Any], index: int, code: str, live: bool, meta: EventMeta,
          config: AdyenConfig) -> list[Activity | Link]:
    it = _read_item(item, index, code)
    activity = Activity(
        name=_name(it), contact=_contact(it),
        actor=_actor(it, config), source=Source(name=config.source_name, id=it.merchant or meta.topic),
        timestamp=_when(item, meta, it.where), description=_description(it),
        object=ActivityObject("payment", it.payment, _payment_link(it, live, config)),
        context=_context(it),
        key=f"adyen:{it.merchant or '-'}:{it.psp}:{code}:{'true' if it.ok else 'false'}")
    return [activity, *_links(it.psp, it.original, it.shopper, it.reference, it.email)]


def _verification(it: _Item) -> bool:
    """A zero-value AUTHORISATION checks the card (to store it, or before a later charge): it is
    not a payment and no money moves."""
    return it.code == "AUTHORISATION" and it.amount is not None and it.amount[0] == 0


def _name(it: _Item) -> str:
    if _verification(it):
        return "Card verified" if it.ok else "Card verification failed"
    return _EVENTS[it.code].name if it.ok else _EVENTS[it.code].failed_name


def _refusal(it: _Item) -> tuple[str | None, str | None]:
    """Why it failed and what the shopper can do: an authorisation's refusal reason in words
    (REFUSAL_REASONS), else the reason as Adyen wrote it (a modification's reasons are free
    text: "Insufficient balance on payment")."""
    if not it.reason:
        return None, None
    if it.code == "AUTHORISATION" and (known := REFUSAL_REASONS.get(it.reason.lower())):
        return known
    return clip(it.reason, 300).rstrip(". "), None


def _description(it: _Item) -> str:
    code = _EVENTS[it.code]
    shown = money(*it.amount) if it.amount else "an amount Adyen did not state"
    if _verification(it):
        text = ("The shopper's card was verified with a zero-value authorisation: no money was "
                "taken." if it.ok else "Verifying the shopper's card (a zero-value "
                                       "authorisation) failed")
    else:
        text = (code.happened if it.ok else code.failed).format(amount=shown)
    if it.ok and it.code not in _DISPUTES:
        return text
    reason, next_step = _refusal(it)
    if it.code in _DISPUTES:
        text = text if text.endswith(".") else text + "."
        text += f" Reason: {reason}." if reason else ""
        due = _due(it)
        return text + (f" A {_due_label(it).lower()} is due by {due}." if due else "")
    return text + (f": {reason}." if reason else ".") + (f" {next_step}" if next_step else "")


def _context(it: _Item) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if it.amount:
        context["Amount"] = money(*it.amount)
    context["Status"] = _name(it).lower() if _verification(it) else (
        humanize(it.code.lower()) + ("" if it.ok else " failed"))
    if it.method:
        context["Payment method"] = clip(it.method, 60)
    if it.reason and (not it.ok or it.code in _DISPUTES):
        context["Reason"] = clip(it.reason, 300)
        if (next_step := _refusal(it)[1]) and not it.ok:
            context["What the shopper can do"] = next_step
    if it.code in _DISPUTES:
        context.update(_dispute_details(it))
    if it.reference:
        context["Merchant reference"] = it.reference
    context["PSP reference"] = it.psp
    if it.original:
        context["Original PSP reference"] = it.original
    return context


def _dispute_details(it: _Item) -> dict[str, str]:
    details: dict[str, str] = {}
    for label, key in (("Chargeback reason code", "chargebackReasonCode"),
                       ("Inquiry reason code", "rfiReasonCode"),
                       ("Dispute status", "disputeStatus")):
        if value := _str(it.extra, key):
            details[label] = clip(value, 60)
    if due := _due(it):
        details[f"{_due_label(it)} due by"] = due
    return details


def _due_label(it: _Item) -> str:
    """An inquiry is answered with information; a chargeback is defended."""
    return "Response" if it.code == "REQUEST_FOR_INFORMATION" else "Defence"


def _due(it: _Item) -> str | None:
    """``additionalData.defensePeriodEndsAt`` as ``2020-12-18 09:15 UTC``; None when absent or
    unreadable."""
    value = _str(it.extra, "defensePeriodEndsAt")
    try:
        return f"{parse_time(value, 'defensePeriodEndsAt'):%Y-%m-%d %H:%M} UTC" if value else None
    except TransformError:
        return None


def _contact(it: _Item) -> Contact:
    if it.email:
        return Contact(email=it.email)
    refs = it.refs()
    if not refs:  # a psp reference with control characters is no ref
        raise TransformError(f"{it.where} names no shopper email and no reference")
    return Contact(refs=refs)


def _actor(it: _Item, config: AdyenConfig) -> Actor:
    """The shopper authorises and their bank asks, disputes and charges back; captures, refunds,
    cancellations and a reversed chargeback are the merchant's side."""
    if _EVENTS[it.code].by_shopper:
        return Actor(id=it.shopper or it.email or it.refs()[0],
                     name=it.email or it.shopper or "Shopper")
    return Actor(id=it.merchant or config.source_name, name=it.merchant or config.source_name,
                 type="system")


def _payment_link(it: _Item, live: bool, config: AdyenConfig) -> str | None:
    """The Customer Area's payment page, as Adyen's own plugins (Magento, Shopware,
    commercetools) link it."""
    if not config.payment_links or not it.payment.isalnum():
        return None
    return f"{_CA[live]}/ca/ca/accounts/showTx.shtml?pspReference={it.payment}&txType=Payment"


def _links(psp: str, original: str | None, shopper: str | None, reference: str | None,
           email: str | None) -> list[Link]:
    psp_ref = vendor_ref("adyen", "psp", psp)
    original_ref = vendor_ref("adyen", "psp", original)
    links: list[Link] = []
    if email:
        who = Contact(email=email)
        links += [Link(ref, contact=who) for ref in dict.fromkeys((
            original_ref, psp_ref, vendor_ref("adyen", "shopper", shopper),
            vendor_ref("adyen", "reference", reference))) if ref]
    elif psp_ref and original_ref and psp_ref != original_ref:
        links.append(Link(psp_ref, alias_of=original_ref))
    return links


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return (value.strip() or None) if isinstance(value, str) else None


def _id(obj: dict[str, Any], key: str) -> str | None:
    value = _str(obj, key)
    return value if value and len(value) <= _MAX_ID else None


def _email(value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise TransformError(f"{where}: additionalData.shopperEmail must be a string "
                             f"(got {json_kind(value)})")
    value = value.strip()
    if len(value) > 254 or clean_text(value) != value:
        raise TransformError(f"{where}: additionalData.shopperEmail {value[:60]!r} is too long "
                             "or contains control characters; fix the producer")
    return value


def _amount(item: dict[str, Any], where: str) -> tuple[Decimal, str] | None:
    amount = item.get("amount")
    if not isinstance(amount, dict):
        return None
    value, currency = amount.get("value"), amount.get("currency")
    if value is None or currency is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TransformError(f"{where}: amount.value must be an integer in minor units "
                             f"(got {value!r:.40})")
    if value < 0:
        raise TransformError(f"{where}: amount.value is negative ({value}); Adyen amounts are "
                             "never negative")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()
            and currency.isascii()):
        raise TransformError(f"{where}: amount.currency {currency!r:.40} is not a currency code")
    return adyen_amount(value, currency), currency.upper()


def adyen_amount(minor: int, currency: str) -> Decimal:
    """Adyen minor units to a major-unit Decimal: (10100, "EUR") -> 101.00, (1000, "CLP") ->
    10.00 (Adyen: two decimals; ISO: none), (500, "CVE") -> 500."""
    code = currency.upper()
    if code in ADYEN_EXPONENTS:
        return Decimal(minor).scaleb(-ADYEN_EXPONENTS[code])
    return minor_to_major(minor, code)


def _when(item: dict[str, Any], meta: EventMeta, where: str) -> datetime:
    value = item.get("eventDate")
    if value is not None:
        return parse_time(value, f"{where}: eventDate")
    if meta.timestamp is not None:
        return meta.timestamp
    raise TransformError(f"{where} has no eventDate and its Kafka message has no timestamp")


adyen_activity = configure()
