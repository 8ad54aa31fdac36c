"""The directory's interface, as the pipeline sees it, and its one error."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from consumer.directory._record import Resolution
from transforms.activity import Contact, Link


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
