"""A simulated Freshdesk account on a fake clock, to drive the pacer through many windows in milliseconds.

Written from the contract, not from the pacer: a fixed window (opening at the first call after the
last one ended, as the sandbox does, or on the clock) or a sliding one, every call counted, 429 with
Retry-After, and another integration spending a share of each window at seeded random moments.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from consumer.delivery.budget.model import WindowModel
from consumer.delivery.budget.schedule import FOR_AN_ANSWER, Schedule


@dataclass
class Account:
    limit: int
    window_s: float
    kind: str = "fixed"  # fixed (opens at the first call) | clock (fixed, on the clock) | sliding
    others_share: float = 0.0
    seed: int = 1
    calls: deque[float] = field(default_factory=deque)  # sliding: times counted
    opened_at: float | None = None
    used: int = 0

    def __post_init__(self) -> None:
        self._rand = random.Random(self.seed)
        self._others: list[float] = []
        self._others_until = 0.0

    def _plan_others(self, until: float) -> None:
        per_window = round(self.others_share * self.limit)
        while self._others_until < until:
            start = self._others_until
            self._others.extend(sorted(start + self._rand.random() * self.window_s
                                       for _ in range(per_window)))
            self._others_until += self.window_s

    def _count(self, now: float) -> int:
        if self.kind == "sliding":
            while self.calls and self.calls[0] <= now - self.window_s:
                self.calls.popleft()
            return len(self.calls)
        if self.kind == "clock":
            start = math.floor(now / self.window_s) * self.window_s
            if self.opened_at != start:
                self.opened_at, self.used = start, 0
        elif self.opened_at is None or now - self.opened_at >= self.window_s:
            self.opened_at, self.used = now, 0
        return self.used

    def _spend(self, now: float) -> tuple[bool, int, float]:
        used = self._count(now)
        if used >= self.limit:
            if self.kind == "sliding":
                retry = self.calls[0] + self.window_s - now
            else:
                assert self.opened_at is not None
                retry = self.opened_at + self.window_s - now
            return False, 0, max(1.0, math.ceil(retry))
        if self.kind == "sliding":
            self.calls.append(now)
        else:
            self.used += 1
        return True, self.limit - used - 1, 0.0

    def advance(self, now: float) -> None:
        """The other integration's calls up to ``now`` (they retry nothing: a 429 is their loss)."""
        self._plan_others(now + self.window_s)
        while self._others and self._others[0] <= now:
            t = self._others.pop(0)
            ok, _, _ = self._spend(t)
            self.others_sent += 1
            self.others_ok += ok

    others_sent: int = 0
    others_ok: int = 0

    def call(self, now: float) -> tuple[int, int, int, float]:
        """(status, total, remaining, retry_after) for one of our calls at ``now``."""
        self.advance(now)
        ok, remaining, retry = self._spend(now)
        return (200 if ok else 429), self.limit, remaining, retry


@dataclass
class Result:
    ok: int
    throttled: int
    seconds: float
    account: Account
    schedule: Schedule

    @property
    def throttled_share(self) -> float:
        return self.throttled / max(1, self.ok + self.throttled)

    def goodput(self, reserve: float) -> float:
        """Our accepted calls as a share of what was ours to take: the budget less the larger of
        the reserve and what the others really spent."""
        windows = self.seconds / self.account.window_s
        others = self.account.others_ok / windows
        available = self.account.limit - max(reserve * self.account.limit, others)
        return self.ok / windows / available


def run(account: Account, seconds: float, *, reserve: float = 0.10, window_s: float | None = None,
        latency: float = 0.002, replicas: int = 1) -> Result:
    """One caller per replica, each sequential, ``latency`` per call, a backlog that never ends."""
    schedules = [Schedule(WindowModel(reserve, window_s)) for _ in range(replicas)]
    ready = [0.0] * replicas
    ok = throttled = 0
    while True:
        i = min(range(replicas), key=ready.__getitem__)
        now = ready[i]
        if now >= seconds:
            break
        s = schedules[i]
        wait = s.before_take(now)
        assert wait != FOR_AN_ANSWER, "one sequential caller never waits for its own answer"
        if wait == 0:
            wait = s.take_local(now)
        if wait > 0:
            ready[i] = now + wait
            continue
        status, total, remaining, retry = account.call(now)
        ready[i] = now + latency
        s.on_answer(ready[i], total, remaining)
        if status == 429:
            throttled += 1
            s.on_throttled(ready[i], retry)
        else:
            ok += 1
    return Result(ok, throttled, seconds, account, schedules[0])
