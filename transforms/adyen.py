"""Built-in transform for Adyen standard webhooks (what the agent sees: docs/vendors.md).

Adyen POSTs ``{"live": "false", "notificationItems": [{"NotificationRequestItem": {…}}, …]}``;
a message may hold several items, and each becomes its own activity (in order).

=============  ===================================  =======================================
eventCode      success "true"                       success "false"
=============  ===================================  =======================================
AUTHORISATION  Payment authorised                   Payment refused (the reason in words)
CAPTURE        Payment captured                     Capture failed
REFUND         Payment refunded                     Refund failed
CANCELLATION   Payment cancelled                    Cancellation failed
CHARGEBACK     Payment charged back                 (Adyen always sends "true")
=============  ===================================  =======================================

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
from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.contract import clean_text, vendor_ref
from transforms.event import EventMeta, Filtered, Transform, TransformError
from transforms.money import minor_to_major, money
from transforms.timefmt import parse_time

__all__ = ["ADYEN_EXPONENTS", "AdyenConfig", "adyen_activity", "adyen_amount", "configure"]

# Adyen's minor units where its currency table (docs.adyen.com/development-resources/
# currency-codes) marks them "differs from standard"; every other currency: ISO 4217. Only these
# two were verified against that page; add any other it lists before relying on it.
ADYEN_EXPONENTS: dict[str, int] = {"CLP": 2, "CVE": 0}
_MAX_ID = 255
_CA = {True: "https://ca-live.adyen.com", False: "https://ca-test.adyen.com"}
# eventCode -> (name when success, name when not, sentence when success, when not); {amount} is
# "101.00 EUR". A capture or refund may be for part of the payment: its amount is what the
# modification was for, never called the payment's.
_EVENTS: dict[str, tuple[str, str, str, str]] = {
    "AUTHORISATION": ("Payment authorised", "Payment refused",
                      "A payment of {amount} was authorised.",
                      "A payment of {amount} was refused"),
    "CAPTURE": ("Payment captured", "Capture failed",
                "{amount} of the payment was captured.",
                "Capturing {amount} of the payment failed"),
    "REFUND": ("Payment refunded", "Refund failed",
               "{amount} of the payment was refunded.",
               "Refunding {amount} of the payment failed"),
    "CANCELLATION": ("Payment cancelled", "Cancellation failed",
                     "The payment ({amount}) was cancelled before it was captured.",
                     "Cancelling the payment ({amount}) failed"),
    "CHARGEBACK": ("Payment charged back", "Chargeback",
                   "The shopper's bank charged back {amount} of the payment.",
                   "The shopper's bank charged back {amount} of the payment"),
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
    items = event.get("notificationItems")
    if not isinstance(items, list):
        hint = (" (a bare NotificationRequestItem? produce the whole webhook body)"
                if "eventCode" in event else "")
        raise TransformError("not an Adyen notification: no `notificationItems` list" + hint)
    live = event.get("live") in ("true", True)
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
    success = item.get("success")
    if success not in ("true", "false", True, False):
        raise TransformError(f"{where}: success must be \"true\" or \"false\" "
                             f"(got {success!r:.40})")
    extra = _dict(item.get("additionalData"))
    return _Item(
        where=where, code=code, ok=success in ("true", True), psp=psp,
        merchant=_id(item, "merchantAccountCode"), original=_id(item, "originalReference"),
        reference=_id(item, "merchantReference"),
        shopper=_id(extra, "shopperReference") or _id(item, "shopperReference"),
        email=_email(extra.get("shopperEmail"), where), amount=_amount(item, where),
        reason=_str(item, "reason"), method=_str(item, "paymentMethod"), extra=extra)


def _item(item: dict[str, Any], index: int, code: str, live: bool, meta: EventMeta,
          config: AdyenConfig) -> list[Activity | Link]:
    it = _read_item(item, index, code)
    name, failed_name, _, _ = _EVENTS[code]
    activity = Activity(
        name=name if it.ok else failed_name, contact=_contact(it),
        actor=_actor(it, config), source=Source(name=config.source_name, id=it.merchant or meta.topic),
        timestamp=_when(item, meta, it.where), description=_description(it),
        object=ActivityObject("payment", it.payment, _payment_link(it, live, config)),
        context=_context(it),
        key=f"adyen:{it.merchant or '-'}:{it.psp}:{code}:{'true' if it.ok else 'false'}")
    return [activity, *_links(it.psp, it.original, it.shopper, it.reference, it.email)]


def _description(it: _Item) -> str:
    _, _, happened, failed = _EVENTS[it.code]
    shown = money(*it.amount) if it.amount else "an amount Adyen did not state"
    because = f"{clip(it.reason, 300).rstrip('. ')}" if it.reason else None
    if not it.ok:
        return failed.format(amount=shown) + (f": {because}." if because else ".")
    description = happened.format(amount=shown)
    if it.code == "CHARGEBACK" and because:
        description += f" Reason: {because}."
    return description


def _context(it: _Item) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if it.amount:
        context["Amount"] = money(*it.amount)
    context["Status"] = humanize(it.code.lower()) + ("" if it.ok else " failed")
    if it.method:
        context["Payment method"] = clip(it.method, 60)
    if it.reason and (not it.ok or it.code == "CHARGEBACK"):
        context["Reason"] = clip(it.reason, 300)
    if it.code == "CHARGEBACK" and (scheme_code := _str(it.extra, "chargebackReasonCode")):
        context["Chargeback reason code"] = clip(scheme_code, 60)
    if it.reference:
        context["Merchant reference"] = it.reference
    context["PSP reference"] = it.psp
    if it.original:
        context["Original PSP reference"] = it.original
    return context


def _contact(it: _Item) -> Contact:
    if it.email:
        return Contact(email=it.email)
    refs = it.refs()
    if not refs:  # a psp reference with control characters is no ref
        raise TransformError(f"{it.where} names no shopper email and no reference")
    return Contact(refs=refs)


def _actor(it: _Item, config: AdyenConfig) -> Actor:
    """The shopper authorises and their bank charges back; captures, refunds and cancellations
    are the merchant's doing."""
    if it.code in ("AUTHORISATION", "CHARGEBACK"):
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
