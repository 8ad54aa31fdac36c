"""Another integration on the same account: it spends a share of every window at random moments.

Freshdesk counts the calls of every app, agent script and integration using an account against
one budget, so a consumer must leave room for them and notice when they spend more. This one
plans ``share * limit`` calls per window at seeded random moments (it has its own jobs to run),
takes a 429 as its loss without retrying, and is played lazily: before the sandbox counts a
request, the calls it planned up to that moment are counted first, in order. No task, no sleep.
"""

from __future__ import annotations

import random
from collections import deque


class OtherIntegration:
    def __init__(self, share: float, limit: int, window_s: float, seed: int | None,
                 start: float) -> None:
        self.share = share
        self.calls_per_window = round(share * limit)
        self.window_s = window_s
        self._random = random.Random(None if seed is None else seed + 7919)  # not the faults' dice
        self._planned: deque[float] = deque()
        self._planned_until = start
        self.sent = 0
        self.accepted = 0

    def due(self, now: float) -> list[float]:
        """The moments of its calls up to ``now`` that are not counted yet, oldest first."""
        if self.calls_per_window == 0:
            return []
        while self._planned_until <= now:
            start = self._planned_until
            self._planned.extend(sorted(start + self._random.random() * self.window_s
                                        for _ in range(self.calls_per_window)))
            self._planned_until += self.window_s
        due = []
        while self._planned and self._planned[0] <= now:
            due.append(self._planned.popleft())
        return due

    def counted(self, accepted: bool) -> None:
        self.sent += 1
        self.accepted += accepted

    def describe(self) -> dict[str, float | int]:
        return {"share": self.share, "calls_per_window": self.calls_per_window,
                "sent": self.sent, "accepted": self.accepted, "throttled": self.sent - self.accepted}
