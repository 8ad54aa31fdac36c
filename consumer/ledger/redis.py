"""The ledger in Redis, shared by every replica (consumer.ledger explains the states)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from consumer._redis import Scrubber, connect_async, redact_url
from consumer.ledger import Claim, LedgerUnavailable

__all__ = ["RedisLedger"]

T = TypeVar("T")

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


def _default_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class RedisLedger:
    """The ledger in Redis, shared by every replica. Key ``<prefix><activity key>``, value
    ``claim:<owner>`` (with a PX lease) or ``delivered`` (with a PX ttl)."""

    immediate = False  # every call is a round trip

    def __init__(self, url: str, *, prefix: str = "fdac:", ttl_s: float = 7 * 86400,
                 lease_s: float = 60, owner: str | None = None, timeout_s: float = 2,
                 max_connections: int = 64):
        self.url = redact_url(url)
        self.owner = owner or _default_owner()
        self.prefix = prefix
        self._claim_value = f"claim:{self.owner}".encode()
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._lease_ms = max(1, round(lease_s * 1000))
        self._timeout_s = timeout_s
        self._scrub = Scrubber(url)
        self._redis: Any = connect_async(url, timeout_s=timeout_s, setting="ledger url",
                                         max_connections=max_connections)
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
