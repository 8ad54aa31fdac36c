"""What the directory stores per ref, how a later Link merges into it, and how a chain resolves.

Both backends and the Redis backend's local cache hold the same :class:`Record`, and all of them
resolve with :func:`walk`, so the merge and resolution rules live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from transforms.activity import Contact, Link

# Alias chains seen in real streams are two or three hops (dispute → charge → customer → email);
# the bound only stops a corrupt or hostile chain from costing a lookup per hop forever.
MAX_DEPTH = 8

# The direct identifiers, in Contact's order of preference (email first).
FIELDS = ("email", "phone", "mobile", "unique_external_id")


class Record:
    """One ref's knowledge. ``None`` is absent (an empty string in a Link counts as absent)."""

    __slots__ = ("_contact", "alias_of", "email", "mobile", "phone", "unique_external_id")

    def __init__(self, email: str | None = None, phone: str | None = None,
                 mobile: str | None = None, unique_external_id: str | None = None,
                 alias_of: str | None = None):
        self.email, self.phone, self.mobile = email, phone, mobile
        self.unique_external_id, self.alias_of = unique_external_id, alias_of
        self._contact: Contact | None = None

    def values(self) -> tuple[str | None, ...]:
        """email, phone, mobile, unique_external_id, alias_of."""
        return (self.email, self.phone, self.mobile, self.unique_external_id, self.alias_of)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self.values() == other.values()

    __hash__ = None  # type: ignore[assignment]  # mutable cache inside; compare by value only

    def __repr__(self) -> str:
        return f"Record{self.values()!r}"

    def has_identifier(self) -> bool:
        return bool(self.email or self.phone or self.mobile or self.unique_external_id)

    def contact(self) -> Contact | None:
        """This ref's own identifiers as a Contact, built once (resolving is the hot path)."""
        if self._contact is None and self.has_identifier():
            self._contact = Contact(self.email, self.phone, self.mobile, self.unique_external_id)
        return self._contact

    def merged(self, newer: Record) -> Record:
        """A later Link adds what it knows and replaces what it knows differently; it never
        removes a field (a payment event without a phone says nothing about the phone)."""
        return Record(newer.email or self.email, newer.phone or self.phone,
                      newer.mobile or self.mobile,
                      newer.unique_external_id or self.unique_external_id,
                      newer.alias_of or self.alias_of)


def record_of(link: Link) -> Record | None:
    """The Record a Link teaches, or None when it teaches nothing (no identifier, no alias).

    A Link aliasing itself teaches nothing either: it would only make a one-ref cycle.
    ``link.contact.refs`` is not read: aliases are said with ``alias_of``.
    """
    if not link.ref:
        return None
    c = link.contact
    alias = link.alias_of if link.alias_of and link.alias_of != link.ref else None
    if c is None:
        return Record(alias_of=alias) if alias else None
    rec = Record(c.email or None, c.phone or None, c.mobile or None,
                 c.unique_external_id or None, alias)
    return rec if rec.has_identifier() or alias else None


class Resolution(NamedTuple):
    """What :func:`walk` found: the contact (None: unresolved) and every ref it looked up, in
    order, the missing one at the end of a broken chain included. The waiting room watches those
    refs: a Link for any of them may complete the chain."""

    contact: Contact | None
    visited: tuple[str, ...]
    missing: tuple[str, ...] = ()  # refs looked up and not known: what an unresolved one awaits

    def describe(self) -> str:
        """One line for ``try`` and debug logs."""
        looked_up = " → ".join(self.visited) or "no refs"
        if self.contact is not None:
            field, value = self.contact.identifier() or ("", "")
            return f"resolved to {field} {value} (looked up {looked_up})"
        if self.missing:
            return (f"waiting for {', '.join(self.missing)} to be learned "
                    f"(looked up {looked_up})")
        return (f"cannot resolve: no identifier on a cycle or within {MAX_DEPTH} hops "
                f"(looked up {looked_up})")


def walk(refs: Sequence[str], get: Callable[[str], Record | None]) -> Resolution:
    """Resolve ``refs``: the first ref whose chain ends in an identifier wins.

    Along one chain a ref's own identifiers come first and the fields it lacks are filled from
    the ref it aliases (``ch_1`` with a billing email keeps it, and gains the customer's phone).
    Cycle-safe and at most :data:`MAX_DEPTH` lookups per ref.
    """
    visited: list[str] = []
    missing: list[str] = []
    for start in refs:
        contact = _follow(start, get, visited, missing)
        if contact is not None:
            return Resolution(contact, tuple(visited))
    return Resolution(None, tuple(visited), tuple(missing))


def _follow(start: str, get: Callable[[str], Record | None], visited: list[str],
            missing: list[str]) -> Contact | None:
    """One chain from ``start``: the contact it ends in, with the fields the refs along it add
    (the first ref's own identifiers first); notes every ref visited and the missing end."""
    gathered = Contact()
    seen: set[str] = set()
    ref: str | None = start
    while ref is not None and ref not in seen and len(seen) < MAX_DEPTH:
        seen.add(ref)
        visited.append(ref)
        rec = get(ref)
        if rec is None:
            missing.append(ref)
            break
        if rec.alias_of is None and gathered.identifier() is None:
            return rec.contact()  # the usual end of a chain: nothing gathered before it
        gathered = Contact(gathered.email or rec.email, gathered.phone or rec.phone,
                           gathered.mobile or rec.mobile,
                           gathered.unique_external_id or rec.unique_external_id)
        ref = rec.alias_of
    return gathered if gathered.identifier() is not None else None
