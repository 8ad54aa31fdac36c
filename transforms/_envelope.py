"""Reading the envelope every generic event shares (docs/event-schema.md), for the built-ins.

Each reader raises TransformError naming the field (``order.total``, ``customer.email``) and
what was wrong with it. JSON ``null`` counts as absent everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from transforms._sniff import leading_vendor, looks_like
from transforms.activity import Activity, ActivityObject, Actor, Contact, Source
from transforms.contract import clean_text
from transforms.event import EventMeta, TransformError
from transforms.money import parse_amount
from transforms.timefmt import parse_time

NO_CONTACT = "event has no customer email, phone or external id"


@dataclass(frozen=True, slots=True)
class Envelope:
    """The common part of an event, read once."""

    event_id: str
    timestamp: datetime
    contact: Contact
    customer: Actor  # the customer as actor (type "contact")
    customer_name: str | None
    source: Source

    def system(self) -> Actor:
        """The shop or processor as actor, for what it did rather than the customer."""
        return Actor(id=self.source.id, name=self.source.name, type="system")

    def activity(self, name: str, description: str, actor: Actor, context: dict[str, Any],
                 obj: ActivityObject, key: str) -> Activity:
        """The activity for this event: the envelope's contact, source and time, and the rest."""
        return Activity(name=name, contact=self.contact, actor=actor, source=self.source,
                        timestamp=self.timestamp, description=description, object=obj,
                        context=context, key=key)


def event_type(event: Any, schema: str) -> str:
    """The event's ``type``; the event must be a JSON object of this schema. ``schema`` names the
    transform (``orders``) so that a payload of another format says what it is not, and which
    built-in reads it when it is a vendor's webhook (transforms._sniff): a Square webhook's
    ``"type": "payment.updated"`` is a misrouted topic, not a type to filter."""
    what = f"{'an' if schema[:1] in 'aeiou' else 'a'} {schema} event"
    if not isinstance(event, dict):
        raise TransformError(f"not {what}: expected a JSON object (got {json_kind(event)})")
    kind = event.get("type")
    if kind is None:
        vendor = looks_like(event)
        hint = f"; this looks like {vendor.what}: subscribe the topic to '{vendor.builtin}'" \
            if vendor else ""
        raise TransformError(f"not {what}: no `type` (docs/event-schema.md){hint}")
    # a vendor payload with a "type" of its own (Stripe, Square, commercetools) would otherwise
    # read as a generic type not shown, and be filtered: a misrouted topic nobody would notice
    if (vendor := leading_vendor(event)) is not None:
        raise TransformError(f"not {what}: this looks like {vendor.what}: subscribe the topic "
                             f"to '{vendor.builtin}'")
    if isinstance(kind, str) and kind:
        return kind
    raise TransformError(f"type: expected a non-empty string (got {json_kind(kind)})")


def read_envelope(event: dict[str, Any], meta: EventMeta, default_source: str) -> Envelope:
    event_id = ident(event, "event_id", "event_id")
    if event_id is None:
        raise TransformError("event has no event_id")

    occurred = event.get("occurred_at")
    if occurred is not None:
        timestamp = parse_time(occurred, "occurred_at")
    elif meta.timestamp is not None:
        timestamp = meta.timestamp
    else:
        raise TransformError("event has no occurred_at and its Kafka message has no timestamp")

    customer = event.get("customer")
    if not isinstance(customer, dict):
        if customer is None:
            raise TransformError(NO_CONTACT)
        raise TransformError(f"customer: expected an object (got {json_kind(customer)})")
    contact = Contact(
        email=contact_text(customer, "email", "customer.email"),
        phone=contact_text(customer, "phone", "customer.phone"),
        mobile=contact_text(customer, "mobile", "customer.mobile"),
        unique_external_id=ident(customer, "external_id", "customer.external_id"),
    )
    identifier = contact.identifier()
    if identifier is None:
        raise TransformError(NO_CONTACT)
    name = text(customer, "name", "customer.name")
    actor = Actor(
        id=ident(customer, "id", "customer.id") or identifier[1],
        name=name or identifier[1],
        type="contact",
    )

    source_obj = child(event, "source", "source")
    if source_obj is None:
        source = Source(name=default_source, id=meta.topic)
    else:
        source = Source(
            name=text(source_obj, "name", "source.name") or default_source,
            id=ident(source_obj, "id", "source.id") or meta.topic,
        )
    return Envelope(event_id, timestamp, contact, actor, name, source)


def child(obj: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """A nested object, or None when absent."""
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise TransformError(f"{where}: expected an object (got {json_kind(value)})")


def required_child(obj: Mapping[str, Any], key: str, where: str, event_kind: str) -> dict[str, Any]:
    value = child(obj, key, where)
    if value is None:
        raise TransformError(f"{event_kind} event has no {where} object")
    return value


def ident(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """An id, as a string. JSON integers are accepted and kept exact (ids above 2**53 included);
    a float is refused because its digits may already be lost."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TransformError(
        f"{where}: expected a string or integer id (got {json_kind(value)} {value!r}); "
        "send large ids as strings"
    )


def text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """A human-readable string; numbers are accepted and printed as they came."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TransformError(f"{where}: expected a string (got {json_kind(value)})")


def contact_text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """A contact detail: a JSON string or nothing. A number is refused, not printed: an email
    of ``123`` is a producer bug, and guessing would put the activity on a stranger's timeline."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        if clean_text(value) != value:
            raise TransformError(f"{where}: {value[:60]!r} contains control or "
                                 "bidirectional-override characters; fix the producer")
        return value.strip() or None
    raise TransformError(f"{where}: expected a string (got {json_kind(value)} {value!r:.40}); "
                         "fix the producer")


def amount(obj: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    """An optional amount; never negative (a refund is its own event type with a positive
    amount, so a negative payment amount is a producer bug, not a payment)."""
    value = obj.get(key)
    if value is None:
        return None
    parsed = parse_amount(value, where)
    if parsed < 0:
        raise TransformError(f"{where}: {value!r:.40} is negative; amounts are positive "
                             "(a refund is a *.refunded event with a positive amount)")
    return parsed


def currency(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.upper()
    raise TransformError(f"{where}: {value!r} is not an ISO 4217 currency code like \"USD\"")


def require(value: Any, where: str, event_kind: str) -> Any:
    if value is None:
        raise TransformError(f"{event_kind} event has no {where}")
    return value


def humanize(code: str) -> str:
    """``"pending_payment"`` -> ``"pending payment"``: machine codes as words."""
    return code.replace("_", " ")


def as_words(reason: str, limit: int = 500) -> str:
    """A reason for people: codes (``requested_by_customer``) as words, free text as written."""
    return clip(reason if " " in reason else humanize(reason), limit)


def reason_text(reason: str, limit: int = 300) -> str:
    """A reason as the tail of one of our sentences: as words, without a trailing full stop
    (we add it)."""
    return as_words(reason, limit).rstrip(". ")


def clip(value: str, limit: int = 200) -> str:
    """Long free text cut to ``limit`` characters, so one item cannot blow the 64 KiB body."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
