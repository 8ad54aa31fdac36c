"""The account's call budget: N calls per window, shared by every key, as Freshdesk counts it.

Every call to the API counts, including the ones answered 401 or 400: Freshdesk meters
API calls, not successful ones, so a consumer hammering with a bad key or bad payloads
burns the same budget its healthy replicas need. A 429 itself costs nothing more.

Two kinds of window, since Freshdesk documents neither and a consumer must cope with both:
``fixed`` opens at the first call after the previous one expired and refills all at once;
``sliding`` counts the calls of the last ``window_seconds``, so each call frees its slot one
window after it was made. ``time_scale`` runs the account's clock faster than the real one
(600: an hour-long window passes in 6 s) so tests can use per-hour budgets; Retry-After is
always in real seconds, as a client waits in real time. An :class:`OtherIntegration` spends
a share of the same budget.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from consumer_devtools.sandbox.others import OtherIntegration

WindowKind = Literal["fixed", "sliding"]
WINDOW_KINDS = ("fixed", "sliding")


class Spend(NamedTuple):
    allowed: bool
    total: int
    remaining: int
    retry_after: int  # whole (real) seconds until a call is possible again; 0 when allowed

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
    def __init__(self, limit: int, window_seconds: float, kind: WindowKind = "fixed",
                 time_scale: float = 1.0, others_share: float = 0.0, seed: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.kind = kind
        self.time_scale = time_scale
        self.seed = seed
        self._clock = clock
        self._opened_at: float | None = None  # fixed
        self._used = 0  # fixed
        self._calls: deque[float] = deque()  # sliding: when each counted call was made
        self.others = OtherIntegration(others_share, limit, window_seconds, seed, self.now())

    def now(self) -> float:
        """The account's clock, in its own (possibly accelerated) seconds."""
        return self._clock() * self.time_scale

    def _count(self, at: float) -> int:
        if self.kind == "sliding":
            while self._calls and self._calls[0] <= at - self.window_seconds:
                self._calls.popleft()
            return len(self._calls)
        if self._opened_at is None or at - self._opened_at >= self.window_seconds:
            self._opened_at = at
            self._used = 0
        return self._used

    def _spend_at(self, at: float) -> Spend:
        used = self._count(at)
        if used >= self.limit:
            if self.kind == "sliding":
                free_at = self._calls[0] + self.window_seconds
            else:
                assert self._opened_at is not None
                free_at = self._opened_at + self.window_seconds
            real_left = (free_at - at) / self.time_scale
            return Spend(False, self.limit, 0, max(1, math.ceil(real_left)))
        if self.kind == "sliding":
            self._calls.append(at)
        else:
            self._used += 1
        return Spend(True, self.limit, self.limit - used - 1, 0)

    def _catch_up(self) -> float:
        """Count the other integration's calls up to now, in order; returns now."""
        now = self.now()
        for at in self.others.due(now):
            self.others.counted(self._spend_at(at).allowed)
        return now

    def spend(self) -> Spend:
        """Take one call from the budget, or say how long until one is free."""
        return self._spend_at(self._catch_up())

    def peek(self) -> Spend:
        """The budget as it stands, without spending (for injected faults)."""
        used = self._count(self._catch_up())
        return Spend(True, self.limit, self.limit - used, 0)

    def reset(self) -> None:
        self._opened_at = None
        self._used = 0
        self._calls.clear()
        self.others = OtherIntegration(self.others.share, self.limit, self.window_seconds,
                                       self.seed, self.now())

    def describe(self) -> dict[str, Any]:
        self._catch_up()
        return {"rate_limit": self.limit, "window_seconds": self.window_seconds,
                "window_kind": self.kind, "time_scale": self.time_scale,
                "others": self.others.describe()}
