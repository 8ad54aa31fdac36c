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

import asyncio
import enum
import os
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from consumer.config import LedgerSettings

__all__ = ["Claim", "Ledger", "LedgerSettings", "LedgerUnavailable", "MemoryLedger", "RedisLedger",
           "Scrubber", "make_ledger", "redact_url"]

T = TypeVar("T")


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
        assert settings.url is not None  # the validator saw to it
        return RedisLedger(settings.url.get_secret_value(), prefix=settings.prefix,
                           ttl_s=settings.ttl_s, lease_s=settings.lease_s,
                           timeout_s=settings.timeout_s)
    return MemoryLedger(settings.max_keys, settings.ttl_s, settings.lease_s)


# --- memory ---------------------------------------------------------------------------------------

class _MemoryStore:
    """Both tables keep expiry order (ttl and lease are fixed), so expired keys leave from the front."""

    def __init__(self, max_keys: int, ttl_s: float, lease_s: float, clock: Callable[[], float]):
        self.max_keys, self.ttl_s, self.lease_s, self.clock = max_keys, ttl_s, lease_s, clock
        self.claims: OrderedDict[str, tuple[str, float]] = OrderedDict()  # key → (owner, until)
        self.delivered: OrderedDict[str, float] = OrderedDict()  # key → until, oldest first

    def purge(self, now: float) -> None:
        while self.delivered and next(iter(self.delivered.values())) <= now:
            self.delivered.popitem(last=False)
        while self.claims and next(iter(self.claims.values()))[1] <= now:
            self.claims.popitem(last=False)

    def full(self) -> bool:
        return len(self.claims) + len(self.delivered) >= self.max_keys


class MemoryLedger:
    """One process's ledger, bounded by ``max_keys``: the oldest deliveries are forgotten first.

    ``for_owner()`` gives a second view of the same store under another owner, which is how
    tests play two replicas.
    """

    immediate = True  # no call awaits anything

    def __init__(self, max_keys: int = 1_000_000, ttl_s: float = 7 * 86400, lease_s: float = 60,
                 clock: Callable[[], float] = time.monotonic, *, owner: str = "local",
                 _store: _MemoryStore | None = None):
        self._store = _store or _MemoryStore(max_keys, ttl_s, lease_s, clock)
        self.owner = owner

    def for_owner(self, owner: str) -> MemoryLedger:
        return MemoryLedger(owner=owner, _store=self._store)

    def __len__(self) -> int:
        return len(self._store.claims) + len(self._store.delivered)

    async def claim(self, key: str) -> Claim:
        s = self._store
        now = s.clock()
        s.purge(now)
        if key in s.delivered:
            return Claim.DELIVERED
        held = s.claims.get(key)
        if held is not None and held[0] != self.owner:
            return Claim.BUSY
        if held is None:
            while s.full() and s.delivered:
                s.delivered.popitem(last=False)
            if s.full():  # every slot a live claim: far beyond max_pending_messages, so a leak
                raise LedgerUnavailable(f"memory ledger holds {len(self)} live claims "
                                        f"(max_keys {s.max_keys})", retry_after=s.lease_s)
        s.claims[key] = (self.owner, now + s.lease_s)
        s.claims.move_to_end(key)
        return Claim.CLAIMED

    async def delivered(self, key: str) -> None:
        s = self._store
        now = s.clock()
        s.purge(now)
        s.claims.pop(key, None)
        s.delivered.pop(key, None)
        while s.full():  # never fails: Freshdesk has it already, so this must be remembered
            (s.delivered if s.delivered else s.claims).popitem(last=False)
        s.delivered[key] = now + s.ttl_s

    async def release(self, key: str) -> None:
        s = self._store
        held = s.claims.get(key)
        if held is not None and held[0] == self.owner:
            del s.claims[key]

    async def aclose(self) -> None:
        pass


# --- redis ----------------------------------------------------------------------------------------

_DELIVERED = b"delivered"

# Atomic, one round trip. Doing it as SET NX + GET + PEXPIRE would leave a gap in which our lease
# lapses, another owner claims, and our PEXPIRE then extends *their* claim while we post too.
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'claimed'
elseif v == 'delivered' then
  return 'delivered'
elseif v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 'claimed'
end
return 'busy'
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def redact_url(url: str) -> str:
    """``redis://user:***@host:6379/0``: the URL with its password replaced, fit for logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        return parts._replace(netloc=f"{user}:***@{host}").geturl()
    except ValueError:
        return "<a redis url that does not parse>"


class Scrubber:
    """Replaces a redis:// URL's password (as written and URL-decoded) with *** in error texts:
    redis-py's messages may carry it, and they reach logs and dead letters."""

    def __init__(self, url: str):
        password = urlsplit(url).password
        self._secrets = [p for p in {password, unquote(password or "")} if p]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _default_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class RedisLedger:
    """The ledger in Redis, shared by every replica. Key ``<prefix><activity key>``, value
    ``claim:<owner>`` (with a PX lease) or ``delivered`` (with a PX ttl)."""

    immediate = False  # every call is a round trip

    def __init__(self, url: str, *, prefix: str = "fdac:", ttl_s: float = 7 * 86400,
                 lease_s: float = 60, owner: str | None = None, timeout_s: float = 2,
                 max_connections: int = 64):
        try:  # imported here: only the redis backend needs the package
            from redis.asyncio import BlockingConnectionPool, Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
            from redis.exceptions import ConnectionError as RedisConnectionError
        except ImportError:
            raise RuntimeError("ledger backend redis needs the redis package: "
                               "pip install 'redis>=5'") from None

        self.url = redact_url(url)
        self.owner = owner or _default_owner()
        self.prefix = prefix
        self._claim_value = f"claim:{self.owner}".encode()
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._lease_ms = max(1, round(lease_s * 1000))
        self._timeout_s = timeout_s
        self._scrub = Scrubber(url)
        try:
            # A blocking pool: above max_connections concurrent calls wait for a connection
            # (within timeout_s) instead of failing. One retry, on connection errors only: a
            # pooled connection that died with a restarted Redis fails at once and the retry
            # opens a fresh one. Timeouts are not retried: the answer is due within timeout_s.
            pool = BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=timeout_s,
                socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)))
            self._redis: Any = Redis.from_pool(pool)  # closes the pool with the client
        except ValueError as e:
            raise ValueError(f"ledger url {self.url}: {self._scrub(str(e))}") from None
        self._claim_script = self._redis.register_script(_CLAIM)
        self._release_script = self._redis.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"RedisLedger(url={self.url!r}, prefix={self.prefix!r}, owner={self.owner!r})"

    async def claim(self, key: str) -> Claim:
        answer = await self._call("claim", key, lambda: self._claim_script(
            keys=[self.prefix + key], args=[self._claim_value, self._lease_ms]))
        return Claim(answer.decode() if isinstance(answer, bytes) else answer)

    async def delivered(self, key: str) -> None:
        await self._call("record the delivery of", key, lambda: self._redis.set(
            self.prefix + key, _DELIVERED, px=self._ttl_ms))

    async def release(self, key: str) -> None:
        await self._call("release", key, lambda: self._release_script(
            keys=[self.prefix + key], args=[self._claim_value]))

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _call(self, what: str, key: str, op: Callable[[], Awaitable[T]]) -> T:
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(self._timeout_s):
                return await op()
        except (RedisError, OSError, TimeoutError) as e:  # OSError: TimeoutError is one
            detail = self._scrub(str(e)) or "no answer"
            # from None: the chained redis error is not ours to scrub
            raise LedgerUnavailable(
                f"ledger {self.url} did not answer ({what} {key!r}): "
                f"{type(e).__name__}: {detail}; delivery waits until it does") from None
