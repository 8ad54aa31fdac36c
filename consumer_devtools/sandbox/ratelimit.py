"""The account's call budget: N calls per fixed window, shared by every key, as Freshdesk counts.

Every call to the API counts, including the ones answered 401 or 400: Freshdesk meters
API calls, not successful ones, so a consumer hammering with a bad key or bad payloads
burns the same budget its healthy replicas need. A 429 itself costs nothing more.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple


class Spend(NamedTuple):
    allowed: bool
    total: int
    remaining: int
    retry_after: int  # whole seconds until the window resets; 0 when allowed

    def headers(self) -> dict[str, str]:
        """The headers Freshdesk puts on every API answer (plus Retry-After on a 429)."""
        found = {
            "X-RateLimit-Total": str(self.total),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Used-CurrentRequest": "1",
        }
        if not self.allowed:
            found["Retry-After"] = str(self.retry_after)
        return found


class AccountBudget:
    """A fixed window that opens at the first call after the previous one expired."""

    def __init__(self, limit: int, window_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._opened_at: float | None = None
        self._used = 0

    def _roll(self) -> float:
        now = self._clock()
        if self._opened_at is None or now - self._opened_at >= self.window_seconds:
            self._opened_at = now
            self._used = 0
        return now

    def spend(self) -> Spend:
        """Take one call from the budget, or say how long until the window resets."""
        now = self._roll()
        if self._used >= self.limit:
            assert self._opened_at is not None
            left = self._opened_at + self.window_seconds - now
            return Spend(False, self.limit, 0, max(1, math.ceil(left)))
        self._used += 1
        return Spend(True, self.limit, self.limit - self._used, 0)

    def peek(self) -> Spend:
        """The budget as it stands, without spending (for injected faults)."""
        self._roll()
        return Spend(True, self.limit, self.limit - self._used, 0)

    def reset(self) -> None:
        self._opened_at = None
        self._used = 0
