"""Which vendor a payload looks like: so that a payload on the wrong topic is rejected, not filtered.

A topic subscribed to ``stripe`` that receives a Square webhook would otherwise read its
``"type": "payment.updated"`` as a Stripe type it does not show and settle it as filtered: the
operator never learns the topic is misrouted. Every built-in asks :func:`looks_like` first and
rejects what looks like another vendor's payload, naming it (``not a Stripe event (looks like a
Square webhook): …``).

Each fingerprint is the shape only that vendor sends (its top-level keys and their types), never a
value that could occur in another vendor's payload. A payload nobody recognises is ``None``: the
transform then reads it as its own and says what is missing, as before.

:data:`MARKER_KEYS` are the keys by which the generic transforms tell a typed vendor payload
from their own events, as raw JSON writes them: a byte probe (``transforms.probe``) that sees one
before the type cannot be sure the transform would filter the event, so it leaves the decision to
the transform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MARKER_KEYS", "MARKER_NAMES", "Vendor", "leading_vendor", "looks_like", "misrouted"]


@dataclass(frozen=True, slots=True)
class Vendor:
    builtin: str  # the built-in transform that reads it: "square"
    what: str  # "a Square webhook"


_COMMERCETOOLS_TYPES = ("Message", "ResourceCreated", "ResourceUpdated", "ResourceDeleted")


def _dict(event: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = event.get(key)
    return value if isinstance(value, dict) else None


def _stripe(e: Mapping[str, Any]) -> bool:
    return e.get("object") == "event" and _dict(e, "data") is not None


def _adyen(e: Mapping[str, Any]) -> bool:
    return isinstance(e.get("notificationItems"), list)


def _paypal(e: Mapping[str, Any]) -> bool:
    return isinstance(e.get("event_type"), str) and _dict(e, "resource") is not None


def _square(e: Mapping[str, Any]) -> bool:
    data = _dict(e, "data")
    return (isinstance(e.get("merchant_id"), str) and isinstance(e.get("type"), str)
            and data is not None and "object" in data)


def _commercetools(e: Mapping[str, Any]) -> bool:
    if e.get("notificationType") in _COMMERCETOOLS_TYPES:
        return True
    resource = _dict(e, "resource")
    return resource is not None and "typeId" in resource and "resourceVersion" in e


def _shopify(e: Mapping[str, Any]) -> bool:
    return "admin_graphql_api_id" in e or "order_status_url" in e


def _woocommerce(e: Mapping[str, Any]) -> bool:
    if "order_key" in e or "date_created_gmt" in e:
        return True
    legacy = _dict(e, "order")  # the legacy REST API's {"order": {…}}
    return legacy is not None and "payment_details" in legacy and "order_number" in legacy


def _generic(e: Mapping[str, Any]) -> bool:
    return ("event_id" in e and isinstance(e.get("type"), str) and _dict(e, "customer") is not None
            and (_dict(e, "order") is not None or _dict(e, "payment") is not None))


_FINGERPRINTS: tuple[tuple[Vendor, Callable[[Mapping[str, Any]], bool]], ...] = (
    (Vendor("stripe", "a Stripe event"), _stripe),
    (Vendor("square", "a Square webhook"), _square),
    (Vendor("commercetools", "a commercetools message"), _commercetools),
    (Vendor("adyen", "an Adyen notification"), _adyen),
    (Vendor("paypal", "a PayPal webhook"), _paypal),
    (Vendor("shopify", "a Shopify webhook"), _shopify),
    (Vendor("woocommerce", "a WooCommerce webhook"), _woocommerce),
)
# The vendors whose payloads carry a top-level "type" string, as the generic schema does: only
# these could pass for a generic event of a type not shown (the others, typeless, are "not an
# orders event: no `type`", with a hint).
_TYPED = 3
_GENERIC = Vendor("orders", "an event of the generic schema (docs/event-schema.md)")

# The keys by which those typed payloads are told apart from a generic event. The vendors write
# them before "type" (Stripe's "object", Square's "merchant_id", commercetools' "notificationType"
# and "resourceVersion"), and so does any re-serialisation with sorted keys; the generic
# transforms look for them there (:func:`leading_vendor`), so their byte probe can too, in the
# part of the value it has already read: telling vendors apart costs the filter path no scan.
MARKER_NAMES = ("object", "merchant_id", "notificationType", "resourceVersion")
MARKER_KEYS: tuple[bytes, ...] = tuple(f'"{name}"'.encode() for name in MARKER_NAMES)


def looks_like(event: Any, *, generic: bool = False) -> Vendor | None:
    """The vendor whose payload ``event`` looks like, or None. With ``generic``, an event of the
    project's own schema (``orders``/``payments``) is recognised too."""
    if not isinstance(event, dict):
        return None
    for vendor, matches in _FINGERPRINTS:
        if matches(event):
            return vendor
    if generic and _generic(event):
        kind = event.get("type", "")
        return Vendor("payments" if kind.startswith("payment") else "orders", _GENERIC.what)
    return None


def leading_vendor(event: dict[str, Any]) -> Vendor | None:
    """For the generic transforms: the typed vendor (Stripe, Square, commercetools) whose payload
    ``event`` is, told by a marker key that comes before its ``type`` (see MARKER_NAMES); None
    otherwise. Key order is the decoder's, which is the payload's."""
    for key in event:
        if key == "type":
            return None
        if key in MARKER_NAMES:
            return next((vendor for vendor, matches in _FINGERPRINTS[:_TYPED] if matches(event)),
                        None)
    return None


def misrouted(event: Any, own: str, what: str) -> str | None:
    """The rejection for a payload of another vendor on a topic subscribed to ``own``, e.g.
    ``"not a Stripe event (looks like a Square webhook): the topic is misrouted; subscribe it to
    'square'"``; None when the payload is not recognisably another vendor's."""
    vendor = looks_like(event, generic=True)
    if vendor is None or vendor.builtin == own:
        return None
    return (f"not {what} (looks like {vendor.what}): the topic is misrouted or mixes vendors; "
            f"subscribe a topic of these to '{vendor.builtin}'")
