"""What the directory stores per ref, how a later Link merges into it, and how a chain resolves.

Both backends and the Redis backend's local cache hold the same :class:`Record`, and all of them
resolve with :func:`walk`, so the merge and resolution rules live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from transforms.activity import Contact, Link

# Alias chains seen in real streams are two or three hops (dispute → charge → customer → email);
# the bound only stops a corrupt or hostile chain from costing a lookup per hop forever.
MAX_DEPTH = 8

# The direct identifiers, in Contact's order of preference (email first).
FIELDS = ("email", "phone", "mobile", "unique_external_id")


class Record(NamedTuple):
    """One ref's knowledge. ``None`` is absent (an empty string in a Link counts as absent)."""

    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    unique_external_id: str | None = None
    alias_of: str | None = None

    def has_identifier(self) -> bool:
        return bool(self.email or self.phone or self.mobile or self.unique_external_id)

    def merged(self, newer: Record) -> Record:
        """A later Link adds what it knows and replaces what it knows differently; it never
        removes a field (a payment event without a phone says nothing about the phone)."""
        return Record(*(n if n else o for o, n in zip(self, newer, strict=True)))


def record_of(link: Link) -> Record | None:
    """The Record a Link teaches, or None when it teaches nothing (no identifier, no alias).

    A Link aliasing itself teaches nothing either: it would only make a one-ref cycle.
    ``link.contact.refs`` is not read: aliases are said with ``alias_of``.
    """
    c = link.contact
    alias = link.alias_of if link.alias_of and link.alias_of != link.ref else None
    if c is None:
        return Record(alias_of=alias) if alias else None
    rec = Record(c.email or None, c.phone or None, c.mobile or None,
                 c.unique_external_id or None, alias)
    return rec if rec.has_identifier() or alias else None


@dataclass(frozen=True, slots=True)
class Resolution:
    """What :func:`walk` found: the contact (None: unresolved) and every ref it looked up, in
    order, the missing one at the end of a broken chain included. The waiting room watches those
    refs: a Link for any of them may complete the chain."""

    contact: Contact | None
    visited: tuple[str, ...]


def walk(refs: Sequence[str], get: Callable[[str], Record | None]) -> Resolution:
    """Resolve ``refs``: the first ref whose chain ends in an identifier wins.

    Along one chain a ref's own identifiers come first and the fields it lacks are filled from
    the ref it aliases (``ch_1`` with a billing email keeps it, and gains the customer's phone).
    Cycle-safe and at most :data:`MAX_DEPTH` lookups per ref.
    """
    visited: list[str] = []
    for start in refs:
        fields: list[str | None] = [None, None, None, None]
        seen: set[str] = set()
        ref: str | None = start
        while ref is not None and ref not in seen and len(seen) < MAX_DEPTH:
            seen.add(ref)
            visited.append(ref)
            rec = get(ref)
            if rec is None:
                break
            for i in range(4):
                if fields[i] is None:
                    fields[i] = rec[i]
            ref = rec.alias_of
        if fields[0] or fields[1] or fields[2] or fields[3]:
            return Resolution(Contact(*fields), tuple(visited))
    return Resolution(None, tuple(visited))
