"""The account's state as delivery sees it: open, halted, or unavailable.

- *halted*: Freshdesk refuses our credentials or address (401/403/404, a redirect, a proxy that
  refuses our credentials). A configuration to fix: one probe every ``halt_probe_interval_s``.
- *unavailable*: Freshdesk cannot be reached: every recent call failed (refused, DNS, TLS
  handshake, timeouts, 5xx) and none succeeded for a second (:class:`AccountHealth`). The
  account's state, not the message's: nothing is dead-lettered for it; one probe at a time,
  with capped exponential backoff and jitter.

While the :class:`AccountGate` is closed nothing is posted but the one probe (the request that
met the failure, retried); its first success reopens it. Nothing is settled meanwhile, so
nothing is committed, and backpressure pauses the partitions. Activities keep their contact's
order: a job waiting at the gate still holds its contacts' turn. Delivery thread only;
``on_change(kind, reason)`` tells the rest of the process (readiness, metrics).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from consumer.delivery.answers import Answer, Reply

__all__ = ["HALTED", "UNAVAILABLE", "AccountGate", "AccountHealth"]

HALTED, UNAVAILABLE = "halted", "unavailable"


class AccountGate:
    def __init__(self, on_change: Callable[[str, str | None], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.kind: str | None = None  # HALTED or UNAVAILABLE while closed
        self.reason: str | None = None
        self.since: float | None = None  # when it closed (epoch s)
        self._on_change = on_change
        self._clock = clock

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Until it is open; False when ``timeout`` passed first."""
        if timeout is None:
            await self._open.wait()
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._open.wait()
            return True
        except TimeoutError:
            return False

    def close(self, kind: str, reason: str) -> bool:
        """Close it (or tell a new kind or reason while closed); True if this call closed it:
        the caller becomes the probe."""
        closing = self._open.is_set()
        if not closing and (kind, reason) == (self.kind, self.reason):
            return False
        if closing:
            self._open.clear()
            self.since = self._clock()
        elif kind != self.kind and self.kind is not None and self._on_change is not None:
            self._on_change(self.kind, None)  # e.g. halted → unavailable: the old cause ends
        self.kind, self.reason = kind, reason
        if self._on_change is not None:
            self._on_change(kind, reason)
        return closing

    def open(self) -> None:
        kind = self.kind
        self._open.set()
        self.kind = self.reason = self.since = None
        if kind is not None and self._on_change is not None:
            self._on_change(kind, None)


class AccountHealth:
    """Whose fault a failed call (a 5xx, a refused connection, a timeout) is: the message's, or
    a blip, while other calls of the account succeed; the account's once the last ``threshold``
    answers all failed and none succeeded for ``quiet_s``. A busy account with a few percent of
    503s keeps succeeding every few milliseconds, so those are retried one by one and the
    account stays open; an outage fails every call and nothing succeeds, so it closes."""

    def __init__(self, threshold: int = 3, quiet_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold, self.quiet_s, self._clock = threshold, quiet_s, clock
        self._failed_in_a_row = 0
        self._last_success: float | None = None  # never, yet: a dead start closes at once

    def record(self, reply: Reply) -> None:
        if reply.answer in (Answer.TRANSIENT, Answer.UNAVAILABLE):
            self._failed_in_a_row += 1
        elif reply.answer is not Answer.HALT:  # an answer from Freshdesk: it is up
            self._failed_in_a_row = 0
            self._last_success = self._clock()

    @property
    def failing(self) -> bool:
        if self._failed_in_a_row < self.threshold:
            return False
        return self._last_success is None or self._clock() - self._last_success >= self.quiet_s
