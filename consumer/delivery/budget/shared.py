"""The account's call schedule in Redis, so that every replica takes its calls from one budget.

One atomic script per call (GCRA: the whole state is one "theoretical arrival time"), with the
Redis server's clock, so replicas on different hosts agree on time. Nothing is held by a caller:
a replica that dies between two calls leaves the schedule exactly as a replica that went idle.
A 429 closes the schedule for everyone (``closed until``) for its Retry-After. Two counters, of
calls taken and of calls answered by every replica, let each replica tell its own side's spending
from the account's other users. Keys expire when nobody calls (``_IDLE_MS``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from consumer._redis import Scrubber, connect_async, redact_url

__all__ = ["SharedSchedule", "SharedUnavailable", "Taken"]

_IDLE_MS = 24 * 3600 * 1000  # a day without calls: forget the account's schedule

# KEYS: tat, closed-until, taken, answered. ARGV: interval ms, tolerance ms, answered since the
# last call of this replica, idle ttl ms. Times in ms (floats print exactly at this size in Lua).
# Returns {granted 0|1, wait ms, taken by all, answered by all}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local answered = redis.call('INCRBY', KEYS[4], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
local taken = tonumber(redis.call('GET', KEYS[3]) or '0')
local closed = tonumber(redis.call('GET', KEYS[2]) or '0')
if closed > now then
  return {0, math.ceil(closed - now), taken, answered}
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait > 0 then
  return {0, math.ceil(wait), taken, answered}
end
redis.call('SET', KEYS[1], string.format('%.3f', tat + tonumber(ARGV[1])), 'PX', ARGV[4])
taken = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return {1, 0, taken, answered}
"""
# KEYS: closed-until. ARGV: Retry-After ms. Only ever moves later: two 429s keep the later end.
_CLOSE = """
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 + tonumber(ARGV[1])
local closed = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > closed then
  redis.call('SET', KEYS[1], string.format('%.3f', until_ms), 'PX', math.ceil(tonumber(ARGV[1])) + 1000)
end
return 1
"""


class SharedUnavailable(Exception):
    """Redis did not answer in time; the caller paces locally meanwhile."""


class Taken:
    __slots__ = ("answered", "taken", "wait_s")

    def __init__(self, wait_s: float, taken: int, answered: int):
        self.wait_s, self.taken, self.answered = wait_s, taken, answered


class SharedSchedule:
    def __init__(self, url: str, account: str, *, prefix: str = "fdac:budget:",
                 timeout_s: float = 0.5):
        self.url = redact_url(url)
        base = f"{prefix}{{{account}}}:"  # one hash tag: the keys stay on one cluster slot
        self._keys = [base + k for k in ("tat", "closed", "taken", "answered")]
        self._timeout_s = timeout_s
        self._scrub = Scrubber(url)
        self._redis: Any = connect_async(url, timeout_s=timeout_s, setting="freshdesk.budget url")
        self._take = self._redis.register_script(_TAKE)
        self._close = self._redis.register_script(_CLOSE)

    def __repr__(self) -> str:
        return f"SharedSchedule(url={self.url!r}, keys={self._keys[0]!r}…)"

    async def take(self, interval_s: float, tolerance_s: float, answered: int) -> Taken:
        """One call if the schedule has one now (``wait_s`` 0), else how long until it may."""
        granted, wait_ms, taken, answered_all = await self._call("take a call", lambda: self._take(
            keys=self._keys, args=[f"{interval_s * 1000:.3f}", f"{tolerance_s * 1000:.3f}",
                                   answered, _IDLE_MS]))
        wait_s = 0.0 if granted else max(0.001, int(wait_ms) / 1000)
        return Taken(wait_s, int(taken), int(answered_all))

    async def close_for(self, seconds: float) -> None:
        """Retry-After: no replica takes a call for ``seconds``."""
        await self._call("close the schedule", lambda: self._close(
            keys=self._keys[1:2], args=[f"{seconds * 1000:.3f}"]))

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _call(self, what: str, op: Any) -> Any:
        from redis.exceptions import RedisError

        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await op()
        except (RedisError, OSError, TimeoutError) as e:
            self._cancelled_meanwhile(task, cancels)
            detail = self._scrub(str(e)) or "no answer"
            raise SharedUnavailable(f"budget schedule {self.url} did not answer ({what}): "
                                    f"{type(e).__name__}: {detail}") from None
        self._cancelled_meanwhile(task, cancels)
        return result

    @staticmethod
    def _cancelled_meanwhile(task: asyncio.Task[Any] | None, cancels: int) -> None:
        """Re-raise a cancel the client turned into an error or an answer (seen with redis-py:
        a cancelled delivery loop must stop, not pace on locally)."""
        if task is not None and task.cancelling() > cancels:
            raise asyncio.CancelledError
