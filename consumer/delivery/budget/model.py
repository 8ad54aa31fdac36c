"""What the rate-limit headers say about the account's window, and the rate that spends our share of it.

Freshdesk sends ``X-RateLimit-Total`` and ``-Remaining`` on every answer, never when the window
resets. Two facts are enough to pace on them:

- a steady rate puts rate*W calls into *any* span of W seconds, so one rate fits a fixed window
  (whatever its phase, which we cannot know) and a sliding one alike:
  rate = (total - what the others need - a margin) / W;
- what the others spend shows as ``Remaining`` falling faster than our own calls explain:
  others = (total - remaining) - our calls counted in the same window.

A fixed window is told apart by ``Remaining`` jumping back up (a reset): the others are then counted
from reset to reset, and in ``auto`` mode the window length is the shortest time between resets. A
sliding window never jumps: the others are counted over the last W seconds and smoothed. Pure logic,
no clock and no I/O: the pacer passes the time in, the unit tests pass a fake one.
"""

from __future__ import annotations

import bisect
import math

__all__ = ["DEFAULT_WINDOW_S", "HOURLY_WINDOW_S", "CallLog", "WindowModel"]

DEFAULT_WINDOW_S = 60.0  # most Freshdesk plans count per minute
HOURLY_WINDOW_S = 3600.0  # the others per hour
_RESET_SHARE = 0.02  # Remaining rising by this share of Total at once may be a reset
_MIN_SHARE = 0.005  # the others spend everything: still trickle, a consumer never stops for them
_MAX_SAMPLES = 200_000  # hourly plans of a few thousand calls fit many times over
# Answers this close to the previous sample share it: at thousands of answers a second a sample
# each would cost a list append per answer and ~14 MB for two minutes. A count is then dated at
# most this early, which moves the others' estimate by the calls of a few milliseconds.
_SAMPLE_S = 0.005


class CallLog:
    """Our calls Freshdesk has answered (every replica's when shared), as a running count over time."""

    def __init__(self) -> None:
        self._times: list[float] = []
        self._counts: list[int] = []
        self._base = 0  # the count before the oldest sample kept
        self.count = 0

    def add(self, now: float, count: int, horizon_s: float) -> None:
        self.count = count
        times = self._times
        if times and now - times[-1] < _SAMPLE_S and count >= self._counts[-1]:
            self._counts[-1] = count
            return
        times.append(now)
        self._counts.append(count)
        cut = bisect.bisect_left(self._times, now - horizon_s)
        cut = max(cut, len(self._times) - _MAX_SAMPLES)
        if cut > len(self._times) // 2:  # amortised: drop the old half at once
            self._base = self._counts[cut - 1]
            del self._times[:cut], self._counts[:cut]

    def at(self, t: float) -> int:
        i = bisect.bisect_right(self._times, t)
        return self._counts[i - 1] if i else self._base

    def reaching(self, count: int) -> float | None:
        """When the running count reached ``count``; None if it has not (or is no longer kept)."""
        i = bisect.bisect_left(self._counts, count)
        return self._times[i] if i < len(self._times) and count > self._base else None

    def between(self, t1: float, t2: float) -> int:
        """Calls answered in (t1, t2]."""
        return max(0, self.at(t2) - self.at(t1))


class WindowModel:
    def __init__(self, reserve: float = 0.10, window_s: float | None = None,
                 margin_share: float = 0.01):
        self.reserve = reserve
        self.learn_window = window_s is None
        self.window_s = window_s or DEFAULT_WINDOW_S
        self.margin_share = margin_share
        self.total: int | None = None
        self.remaining: int | None = None
        self.fixed = False  # a reset was seen: the account counts in fixed windows
        self.ours = CallLog()
        self._last: tuple[float, int] | None = None  # (time, remaining) of the previous answer
        self._reset_at: float | None = None
        self._intervals: list[float] = []  # between the last resets (auto window)
        self._others_window: float | None = None  # fixed: the others' calls in recent windows
        self._others_now = 0.0  # fixed: in this window so far; sliding: smoothed over the last W
        self._spent_since: float | None = None  # auto: when Remaining was last seen at the bottom
        self._rate: float | None = None  # rate(), kept until the next answer or Retry-After

    def count_ours(self, now: float, count: int) -> None:
        """Our running count of answered calls (every replica's when shared) reached ``count``."""
        self.ours.add(now, count, 2 * max(self.window_s, DEFAULT_WINDOW_S))

    def observe(self, now: float, total: int, remaining: int, in_flight: int = 0) -> None:
        """One answer's headers; ``in_flight``: calls of ours (all replicas) on the wire, whose
        answers can come back in another order than Freshdesk counted them."""
        self._rate = None
        self.total, self.remaining = total, remaining
        if remaining <= 0:
            # Spent: the gate knows (and a 429's Retry-After says when). It tells nothing of who
            # spent it, and a fault in front of the API (a proxy's 429) says the same: keep it out
            # of the others' count and of the reset baseline, or one such answer would pass for
            # a whole window spent by someone else.
            self._learn_hourly(now, remaining, total)
            return
        prev, self._last = self._last, (now, remaining)
        if prev is not None and self._is_reset(prev, now, total, remaining, in_flight):
            self._on_reset(now, prev, total)
        used = total - remaining
        if self.fixed and self._reset_at is not None:
            self._others_now = max(0.0, used - self.ours.between(self._reset_at, now))
        else:
            sample = max(0.0, used - self.ours.between(now - self.window_s, now))
            if prev is None:
                self._others_now = sample
            else:  # smoothed over about half a window: one burst of theirs is not a new habit
                alpha = 1 - math.exp(-max(0.0, now - prev[0]) / (self.window_s / 2))
                self._others_now += alpha * (sample - self._others_now)
        self._learn_hourly(now, remaining, total)

    def _is_reset(self, prev: tuple[float, int], now: float, total: int, remaining: int,
                  in_flight: int) -> bool:
        """Remaining rose, to the window's upper half, by more than noise and than answers out of
        order can explain (twice the calls in flight), and more than a sliding window could have
        freed: either more than the whole budget's rate in the time, twice over, or while more
        of our own calls of the last window are in it than the account says are counted."""
        rise = remaining - prev[1]
        if rise < max(3.0, total * _RESET_SHARE, 2.0 * in_flight) or remaining < total / 2:
            return False
        if rise >= 2 * total * (now - prev[0]) / self.window_s:
            return True
        return self.ours.between(now - self.window_s, now) > total - remaining + in_flight + 1

    def _on_reset(self, now: float, prev: tuple[float, int], total: int) -> None:
        # The finished window: used at its last answer, minus our calls in it (the first time,
        # when its start is unknown, those of the window's length before it ended).
        start = self._reset_at if self._reset_at is not None else prev[0] - self.window_s
        finished = max(0.0, (total - prev[1]) - self.ours.between(start, prev[0]))
        last = self._others_window
        # Averaged: where their spending falls relative to the window varies; a window in which
        # they spend more than expected ends at the floor (schedule.py), not in 429s.
        self._others_window = finished if last is None else (finished + last) / 2
        if self._reset_at is not None and self.learn_window:
            # Each reset happened between two answers: the longest the gap can have been, and
            # windows tile or sit on a clock, so that is one window or more. Never too short.
            self._intervals = [*self._intervals[-2:], now - self._reset_at]
            self.window_s = max(1.0, min(self._intervals))
        self.fixed = True
        # Counted from the answer before the jump: every call answered after it is in the new window.
        self._reset_at = prev[0]
        self._spent_since = None

    def _learn_hourly(self, now: float, remaining: int, total: int) -> None:
        """auto: a budget spent for much longer than a minute without a reset is counted per hour."""
        if not self.learn_window or self._reset_at is not None:
            return
        if remaining > self.margin(total):
            self._spent_since = None
        elif self._spent_since is None:
            self._spent_since = now
        elif now - self._spent_since > 1.5 * DEFAULT_WINDOW_S:
            self.window_s = HOURLY_WINDOW_S

    def room_at(self, calls: int) -> float | None:
        """When ``calls`` of ours counted in the last answer's window will have left it, if the window
        slides: our own call log says when each goes. None when we have no such calls to wait for."""
        if self._last is None:
            return None
        t = self.ours.reaching(self.ours.at(self._last[0] - self.window_s) + calls)
        return None if t is None or t > self._last[0] else t + self.window_s

    def retry_after(self, seconds: float) -> None:
        """auto: a Retry-After longer than the window we assume means a longer window (hourly)."""
        self._rate = None
        if self.learn_window and self._reset_at is None and seconds > self.window_s:
            self.window_s = max(HOURLY_WINDOW_S, seconds)

    def margin(self, total: int) -> float:
        return max(1.0, self.margin_share * total)

    def others(self) -> float:
        """Calls per window the account's other users are expected to take."""
        if self.fixed and self._others_window is not None:
            return max(self._others_window, self._others_now)
        return self._others_now

    def kept(self) -> float:
        """Calls per window left to the others: the reserve, or what they are seen to spend."""
        assert self.total is not None
        return max(self.reserve * self.total, self.others())

    def rate(self) -> float | None:
        """Calls per second this consumer (all its replicas) may make; None before any headers.
        Asked before every call, it changes only with an answer or a Retry-After: kept till then."""
        if self._rate is None and self.total is not None:
            ours = self.total - self.kept() - self.margin(self.total)
            self._rate = max(_MIN_SHARE * self.total, ours) / self.window_s
        return self._rate

    def describe(self) -> dict[str, object]:
        return {"total": self.total, "remaining": self.remaining, "window_s": self.window_s,
                "fixed": self.fixed, "others": round(self.others(), 1), "rate": self.rate()}
