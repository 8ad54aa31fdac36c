"""The account budget: how fast this process may call one Freshdesk account right now.

Freshdesk's limit is per account, shared by every replica and every other integration using
the same account, so no per-replica rate can be right. The headers are the shared truth:
a 429 closes the budget for everyone in this process until its ``Retry-After`` has passed,
instead of letting every in-flight request find out on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["AccountBudget"]


class AccountBudget:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._resume_at = 0.0
        self.total: int | None = None  # X-RateLimit-Total of the last answer
        self.remaining: int | None = None  # X-RateLimit-Remaining of the last answer

    def observe(self, total: int | None, remaining: int | None) -> None:
        if total is not None:
            self.total = total
        if remaining is not None:
            self.remaining = remaining

    def throttle(self, seconds: float) -> None:
        """Freshdesk said 429: nobody in this process calls it for ``seconds``."""
        self._resume_at = max(self._resume_at, self._clock() + seconds)

    @property
    def throttled_for(self) -> float:
        return max(0.0, self._resume_at - self._clock())

    async def wait(self) -> None:
        while (delay := self._resume_at - self._clock()) > 0:
            await asyncio.sleep(delay)
