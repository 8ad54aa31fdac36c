"""The Activity model: one entry on a Freshdesk contact's timeline, as frozen values.

Building these values checks nothing (they are on the hot path and the transforms build them
field by field); ``transforms.contract.encode`` validates an Activity against the contract in
one pass and reports every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from transforms.timefmt import iso_utc

__all__ = ["Activity", "ActivityObject", "Actor", "Contact", "Link", "Source"]


@dataclass(frozen=True, slots=True)
class Contact:
    """Who the activity belongs to. Several identifiers may be known; the payload sends exactly
    one, in this order of preference: email, phone, mobile, unique_external_id. An empty string
    counts as absent."""

    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    unique_external_id: str | None = None
    # Vendor identifiers the contact directory may know the customer by, for events that name no
    # email or phone ("stripe:cus_NffrFeUfNV2Hib", "shopify:order:450789469"; see Link). The
    # pipeline resolves them before delivery; they are never sent to Freshdesk.
    refs: tuple[str, ...] = ()

    def identifier(self) -> tuple[str, str] | None:
        """The ``(field, value)`` the payload will send, or None when nothing identifies them."""
        if self.email:
            return ("email", self.email)
        if self.phone:
            return ("phone", self.phone)
        if self.mobile:
            return ("mobile", self.mobile)
        if self.unique_external_id:
            return ("unique_external_id", self.unique_external_id)
        return None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: the customer (``type="contact"``) or the shop/processor (``type="system"``)."""

    id: str
    name: str
    type: str = "contact"


@dataclass(frozen=True, slots=True)
class Source:
    """The application the activity came from (``name``) and which instance or topic (``id``)."""

    name: str
    id: str


@dataclass(frozen=True, slots=True)
class ActivityObject:
    """What it was done to (an order, a payment), with a link an agent can open."""

    type: str
    id: str
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """One timeline entry. ``key`` is the idempotency key (never sent to Freshdesk); when None,
    ``transforms.contract.activity_key`` derives one from the payload."""

    name: str
    contact: Contact
    actor: Actor
    source: Source
    timestamp: datetime
    description: str | None = None
    link: str | None = None
    object: ActivityObject | None = None
    context: Mapping[str, Any] | None = None
    key: str | None = None

    @property
    def needs_contact(self) -> bool:
        """True when the contact names only vendor refs: the pipeline must resolve it through the
        contact directory (``with_contact``) before ``encode`` accepts it."""
        return self.contact.identifier() is None and bool(self.contact.refs)

    def with_contact(self, contact: Contact) -> Activity:
        """This activity for ``contact`` (the directory's answer for its refs); all else equal,
        the key included, so a resolved activity is still the same fact for the ledger."""
        return replace(self, contact=contact)

    def payload(self) -> dict[str, Any]:
        """The request body: only keys the contract allows, None fields left out, the timestamp
        as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds). Validate with ``encode`` first: this
        method trusts its fields (a naive timestamp raises ValueError here)."""
        actor, source = self.actor, self.source
        activity: dict[str, Any] = {"name": self.name, "timestamp": iso_utc(self.timestamp)}
        if self.description is not None:
            activity["description"] = self.description
        if self.link is not None:
            activity["link"] = self.link
        activity["actor"] = {"id": actor.id, "name": actor.name, "type": actor.type}
        activity["source"] = {"name": source.name, "id": source.id}
        obj = self.object
        if obj is not None:
            if obj.link is None:
                activity["object"] = {"type": obj.type, "id": obj.id}
            else:
                activity["object"] = {"type": obj.type, "id": obj.id, "link": obj.link}
        if self.context is not None:
            activity["context"] = self.context
        identifier = self.contact.identifier()
        contact = {identifier[0]: identifier[1]} if identifier else {}
        return {"activity": activity, "contact": contact}


@dataclass(frozen=True, slots=True)
class Link:
    """What an event teaches the contact directory: the vendor identifier ``ref`` belongs to
    ``contact`` (its email/phone/...), or is another name for the customer of ``alias_of``.

    A transform returns Links beside its activities (``[activity, Link(...), ...]``) or alone
    (a ``customer.updated`` teaches, it is not shown). Refs are ``"<vendor>:<id>"`` with the
    vendor's own id prefix where it has one: ``stripe:cus_…``, ``stripe:ch_…``, ``stripe:pi_…``;
    else a kind: ``shopify:order:<id>``, ``shopify:customer:<id>``, ``woocommerce:order:<id>``,
    ``adyen:psp:<pspReference>``, ``adyen:shopper:<shopperReference>``.
    Examples: ``Link("stripe:cus_1", contact=Contact(email="rachel@example.com"))``,
    ``Link("stripe:ch_1", alias_of="stripe:cus_1")``.
    """

    ref: str
    contact: Contact | None = None
    alias_of: str | None = None
