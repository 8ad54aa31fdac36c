"""The idempotency ledger: which activities are on the timeline already, and who is posting which.

Freshdesk has no idempotency key, so the consumer remembers. Every activity has a key
(:attr:`consumer.delivery.deliverer.Delivery.key`); one key is in one of three states:

- absent: nobody has posted it (or its record expired);
- ``claim:<owner>``: a consumer process is posting it now. A claim is a *lease*: it expires after
  ``lease_s`` so that the key of a process that crashed mid-post becomes claimable again;
- ``delivered``: Freshdesk answered 200. Kept ``ttl_s`` (default 7 days), then forgotten.

How the delivery station uses it, per activity, inside the contact's lock (so that one process
never posts one key twice in parallel: both would count as the same owner):

1. ``claim(key)`` right before *every* POST attempt. CLAIMED: post. Claiming again what we
   already hold re-arms the lease, so a retry after a backoff, a 429 wait or a halt is covered,
   and a lease that lapsed meanwhile is simply taken again. DELIVERED: do not post, settle as
   delivered. BUSY: another live process is posting it (e.g. the previous owner of a revoked
   partition is still draining): retry later; if that process dies, its lease runs out.
2. after the 200: ``delivered(key)``: one write, no read. A crash between the 200 and this write
   is the only way to post twice, and the window is exactly that one round trip.
3. dead letter or abandon (revoke, shutdown): ``release(key)``, which removes the claim only if
   it is still ours, so the next owner need not wait for the lease.
4. :class:`LedgerUnavailable` from any call: the ledger cannot answer, so we cannot know.
   Never post blindly: pause delivery (backpressure) and try again after ``retry_after``.

The lease, a trade-off. It must outlive one request (``freshdesk.timeout_s``, 10 s by default) with
room to spare, because claim() re-arms it only between attempts. Too short: after a stall longer
than the lease (GC pause, frozen VM, a request slower than the lease), another replica can take the
key and both post. Too long: a crashed claimer's keys wait up to ``lease_s`` before anyone
redelivers them (their messages are not lost, only late). 60 s is six default request timeouts.
No separate ``refresh()``: re-claiming before each attempt already refreshes, and unlike a
refresh it also re-takes a lapsed lease when nobody else took it.

``ttl_s`` bounds how far back a replay is deduplicated: set it at least as long as the topics'
retention plus the time a dead letter may wait for a redrive. Run Redis with persistence (AOF):
a Redis that restarts empty has forgotten every delivery, and a replay after that posts again.
Size: about 200 bytes per key (sha256 keys, measured), so a million activities a day kept
7 days is about 1.4 GB.

Backends: :class:`MemoryLedger` (one process, bounded, the default; it forgets everything on
restart, so it does not close the crash window, it only dedupes within one process's life) and
:class:`RedisLedger` (shared by every replica; survives restarts of the consumer).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

from consumer.config import LedgerSettings

if TYPE_CHECKING:
    from consumer.ledger.memory import MemoryLedger
    from consumer.ledger.redis import RedisLedger

__all__ = ["Claim", "Ledger", "LedgerUnavailable", "MemoryLedger", "RedisLedger", "make_ledger"]


class Claim(enum.Enum):
    CLAIMED = "claimed"  # ours now: post it
    DELIVERED = "delivered"  # on the timeline already: do not post
    BUSY = "busy"  # another live claimer holds it: try again later


class LedgerUnavailable(Exception):
    """The ledger cannot answer. Pause delivery and try again after ``retry_after`` seconds;
    never post without an answer (that is how activities get doubled)."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class Ledger(Protocol):
    # True when no call ever suspends (memory): a cancel cannot land inside one.
    immediate: bool

    async def claim(self, key: str) -> Claim:
        """Claim ``key`` for posting, with a lease of ``lease_s``; see the module docstring."""
        ...

    async def delivered(self, key: str) -> None:
        """Freshdesk accepted it: mark it delivered for ``ttl_s``, replacing the claim (one write)."""
        ...

    async def release(self, key: str) -> None:
        """Give our claim back (dead-lettered, abandoned); someone else's claim is left alone."""
        ...

    async def aclose(self) -> None: ...


def make_ledger(settings: LedgerSettings) -> Ledger:
    if settings.backend == "redis":
        from consumer.ledger.redis import RedisLedger

        assert settings.url is not None  # the validator saw to it
        return RedisLedger(settings.url.get_secret_value(), prefix=settings.prefix,
                           ttl_s=settings.ttl_s, lease_s=settings.lease_s,
                           timeout_s=settings.timeout_s)
    from consumer.ledger.memory import MemoryLedger

    return MemoryLedger(settings.max_keys, settings.ttl_s, settings.lease_s)


def __getattr__(name: str) -> object:  # the backends, imported when asked for (redis-py is heavy)
    if name == "MemoryLedger":
        from consumer.ledger.memory import MemoryLedger
        return MemoryLedger
    if name == "RedisLedger":
        from consumer.ledger.redis import RedisLedger
        return RedisLedger
    raise AttributeError(f"module 'consumer.ledger' has no attribute {name!r}")


