"""When the next call may go: the window model's rate, spaced evenly (GCRA), and a gate on Remaining.

Synchronous and clock-free (the time is passed in), so the unit tests can drive it against a
simulated account for thousands of windows in milliseconds. :class:`AccountBudget` wraps it with
the waiting, the metrics and the shared Redis schedule.
"""

from __future__ import annotations

import math

from consumer.delivery.budget.model import WindowModel

__all__ = ["FOR_AN_ANSWER", "Gcra", "Schedule"]

FOR_AN_ANSWER = math.inf  # wait() result: nothing to do until an answer arrives
# Calls kept unspent in the window as we know it (the model's margin, within these bounds): the
# others may take a few between our last answer and our next call, and a 429 costs a whole second
# of Retry-After (Freshdesk rounds up), far more than the few calls kept.
FLOOR_MIN, FLOOR_MAX = 2, 5
_LATE_S = 0.1
_BARE_ANSWERS = 3  # answers without rate headers, before any with them, that mean "none come"


class Gcra:
    """Generic cell rate algorithm: one call per ``interval``, ``tolerance`` early at most.

    The whole state is one time (the theoretical arrival time), so the same rule runs in Redis
    for every replica at once (see shared.py), and nothing is held by a caller that dies.
    """

    def __init__(self) -> None:
        self.tat = 0.0

    def take(self, now: float, interval: float, tolerance: float) -> float:
        """0: go now (the call is counted); else the seconds to wait before asking again."""
        tat = max(self.tat, now)
        if (wait := tat - tolerance - now) > 0:
            return wait
        self.tat = tat + interval
        return 0.0


class Schedule:
    """Counts calls taken and answered, feeds the model, and says when the next call may go.

    ``taken`` / ``answered`` count this process's calls; the other replicas' (as Redis last
    reported them, ``sync``) are added wherever the gate and the model need all of ours.
    """

    def __init__(self, model: WindowModel, paced: bool = True):
        self.model = model
        self.paced = paced  # False: only Retry-After holds calls back (the reactive budget)
        self.gcra = Gcra()
        self.closed_until = 0.0  # Retry-After: nobody calls before this
        self.headerless = False  # answers carry no X-RateLimit headers: nothing to pace on
        self._bare = 0  # answers in a row without the headers
        self.taken = 0
        self.answered = 0
        self._peers_taken = 0  # the other replicas' calls, as of the last sync
        self._peers_answered = 0
        self._unseen_at_answer = 0  # calls taken but not in the last Remaining
        self._taken_at_answer = 0  # all_taken when the last Remaining came
        # When the last answer came: probes of a spent window are spaced from it. Not from the
        # last call taken: a call taken and then not made (unused: the ledger knew its activity,
        # as it does for many of a restarted replica's first jobs) must not use up the probe.
        self._last_answer = -math.inf

    # --- facts -----------------------------------------------------------------------------

    def on_taken(self, now: float) -> None:
        self.taken += 1

    def on_answer(self, now: float, total: int | None, remaining: int | None) -> None:
        self.answered += 1
        self._last_answer = now
        self.model.count_ours(now, self.answered + self._peers_answered)
        if total is None or remaining is None:
            # A timeout says nothing; answers that never carry the headers (a proxy strips
            # them, a test double) leave nothing to pace on.
            self._bare += 1
            self.headerless = self.model.total is None and self._bare >= _BARE_ANSWERS
            return
        self._bare = 0
        self.headerless = False
        # Calls taken before this one was counted may not be in its Remaining: at most those in
        # flight, ours and (as last reported) the other replicas'.
        self._unseen_at_answer = self.in_flight + self.peers_in_flight
        self._taken_at_answer = self.all_taken
        self.model.observe(now, total, remaining, self.in_flight + self.peers_in_flight)

    def on_unused(self) -> None:
        """A call taken and then not made (the ledger knew the activity, a 429 came meanwhile)."""
        self.taken = max(self.answered, self.taken - 1)

    def forget_in_flight(self) -> None:
        """No answer for far longer than a request may take: what we counted in flight is gone."""
        self.taken = self.answered

    def on_throttled(self, now: float, retry_after_s: float) -> None:
        self.closed_until = max(self.closed_until, now + retry_after_s)
        self.model.retry_after(retry_after_s)

    def sync(self, peers_taken: int, peers_answered: int) -> None:
        """The shared schedule's count of the other replicas' calls."""
        self._peers_taken, self._peers_answered = peers_taken, peers_answered

    @property
    def all_taken(self) -> int:
        return self.taken + self._peers_taken

    @property
    def peers_in_flight(self) -> int:
        return max(0, self._peers_taken - self._peers_answered)

    @property
    def in_flight(self) -> int:
        return max(0, self.taken - self.answered)

    # --- decisions ---------------------------------------------------------------------------

    def interval(self) -> float | None:
        rate = self.model.rate()
        return None if rate is None else 1.0 / rate

    def headroom(self) -> float:
        """Calls left in the window as far as we know: the last Remaining, less ours since."""
        if self.model.remaining is None:
            return math.inf
        since = self.all_taken - self._taken_at_answer
        return self.model.remaining - since - self._unseen_at_answer

    def floor(self) -> float:
        total = self.model.total or 0
        return min(FLOOR_MAX, max(FLOOR_MIN, self.model.margin(total)))

    def before_take(self, now: float) -> float:
        """Seconds to wait before asking the GCRA (0: ask it now), FOR_AN_ANSWER to wait for one."""
        if (closed := self.closed_until - now) > 0:
            return closed
        if self.headerless or not self.paced:
            return 0.0
        interval = self.interval()
        if interval is None:  # nothing known yet: one call at a time until the headers speak
            return FOR_AN_ANSWER if self.in_flight else 0.0
        floor = self.floor()
        if (headroom := self.headroom()) >= floor:
            return 0.0
        if self.in_flight:
            return FOR_AN_ANSWER  # its answer brings a fresher Remaining
        # Spent as far as we know, nothing in flight. A sliding window frees each of our calls a
        # window after it was counted: wait for enough of them. A fixed window frees everything
        # at its reset, which no header tells: probe now and then; its 429 says when.
        free_at = self.model.room_at(math.ceil(floor - max(0.0, headroom)))
        if free_at is None:
            free_at = self._last_answer + max(floor * interval, self.model.window_s / 20)
        if self.closed_until > self._last_answer:  # our last answer was a 429: it said when
            free_at = min(free_at, self.closed_until)
        return max(0.0, free_at - now)

    def take_local(self, now: float) -> float:
        """The local GCRA's answer (0: go, and the call is counted)."""
        interval = self.interval()
        if interval is None or self.headerless or not self.paced:
            self.on_taken(now)
            return 0.0
        wait = self.gcra.take(now, interval, self.tolerance(interval))
        if wait == 0:
            self.on_taken(now)
        return wait

    @staticmethod
    def tolerance(interval: float) -> float:
        # How early a call may be: a waiter woken late (a busy host, a Redis round trip) does not
        # lose its slot, and an idle consumer bursts a few calls (a tenth of a second's worth),
        # never a window's worth.
        return max(interval, _LATE_S)
