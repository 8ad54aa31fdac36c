"""The directory's interface, as the pipeline sees it, and its one error."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Protocol

from consumer.contacts.directory._record import Resolution
from transforms.activity import Activity, Contact, Link


class DirectoryUnavailable(Exception):
    """The directory's Redis did not answer. Nothing was decided: pause (as for
    LedgerUnavailable) and call again after ``retry_after`` seconds. Links not yet written stay
    buffered; never treat this as "unresolved" (that would park events the directory knows)."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class ContactDirectory(Protocol):
    """Called on the poll thread only (its one owner). Every method but ``close`` may raise
    :class:`DirectoryUnavailable` (the Redis backend; the memory backend never does)."""

    def learn(self, links: Iterable[Link]) -> None:
        """Remember what the Links teach. May buffer until :meth:`flush`."""
        ...

    def flush(self) -> None:
        """Write what ``learn`` buffered. Call once per poll batch, before committing offsets of
        messages whose Links were learned."""
        ...

    def resolve(self, refs: Sequence[str]) -> Contact | None:
        """The contact of the first ref that resolves (its email/phone/mobile/
        unique_external_id; ``refs`` empty), or None. Sees every Link this process learned."""
        ...

    def lookup(self, refs: Sequence[str]) -> Resolution:
        """As ``resolve``, plus the refs looked up (what the waiting room watches, what ``try``
        shows)."""
        ...

    def close(self) -> None: ...


def with_contact(activity: Activity, directory: ContactDirectory) -> Activity | None:
    """``activity`` ready to send: as it is when its contact has a direct identifier, else with
    the identifiers the directory resolves its refs to (the refs kept, for ``try`` and logs),
    else None (unresolved: let it wait).

    The idempotency key must not change with the resolution: when the transform gave none,
    derive it from the activity *before* this call (the derived key hashes the payload, contact
    included, and a customer's email may change while the event waits or between a delivery and
    its replay)."""
    contact = activity.contact
    if contact.identifier() is not None or not contact.refs:
        return activity
    found = directory.resolve(contact.refs)
    if found is None:
        return None
    return dataclasses.replace(activity, contact=dataclasses.replace(found, refs=contact.refs))
