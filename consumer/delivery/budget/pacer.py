"""The account budget: when this process may make its next call to one Freshdesk account.

Freshdesk's limit is per account, shared by every replica and every other integration on it, and
no answer says when its window resets. So calls are paced evenly at the rate the headers allow
(see model.py), a gate on ``Remaining`` stops them short of the bottom (schedule.py), a 429's
``Retry-After`` closes the budget for everyone, and with ``backend: redis`` every replica takes
its calls from one schedule (shared.py). Redis away: each replica paces on its own headers, with
a warning, and tries Redis again every ``_RETRY_SHARED_S``; delivery never stops for it.

Owned by the delivery loop's thread: every method is called there, nothing else reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from collections.abc import Awaitable, Callable

from consumer.config import BudgetSettings
from consumer.delivery.budget.model import WindowModel
from consumer.delivery.budget.schedule import FOR_AN_ANSWER, Schedule
from consumer.delivery.budget.shared import SharedSchedule, SharedUnavailable
from consumer.metrics import METRICS, Metrics

__all__ = ["AccountBudget"]

log = logging.getLogger("consumer.budget")

_SHOW_AWAY_S = 15.0  # shared store away this long: readiness says so
_RETRY_SHARED_S = 5.0  # Redis away: pace locally this long before asking it again
# Waiting for an answer for this long means the calls we counted in flight never went out (or
# their answers were lost): stop counting them. Longer than any request may take.
_STALE_IN_FLIGHT_S = 30.0
_EXPORT_EVERY_S = 0.5  # the window gauges (used, available, others, Remaining, Total)


class AccountBudget:
    """``await wait()`` before each call; ``observe()`` after each answer; ``throttle()`` on a 429.

    Built without settings it only honours Retry-After (the reactive budget of a Deliverer made
    without one, as in delivery's unit tests); ``make_budget()`` builds the pacing one.

    ``unused()`` when a call taken with ``wait()`` was not made after all (its activity turned out
    delivered, or a 429 came meanwhile), so the budget does not count it as in flight.
    """

    def __init__(self, settings: BudgetSettings | None = None, *,
                 shared: SharedSchedule | None = None, replica: str | None = None,
                 metrics: Metrics = METRICS, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_store: Callable[[str | None], None] = lambda why: None):
        paced = settings is not None
        settings = settings or BudgetSettings()
        self.settings = settings
        self._schedule = Schedule(WindowModel(settings.reserve, settings.fixed_window_s), paced)
        self._shared = shared
        self._shared_until = 0.0  # shared schedule unusable until then (Redis away)
        self._away_since: float | None = None  # ... since when, and whether readiness says so
        self._on_store, self._store_shown = on_store, False
        self._answered_unpushed = 0  # our answers the shared counter has not heard of yet
        self._mine_taken = self._mine_answered = 0  # what the shared counters hold of ours
        self._clock, self._sleep = clock, sleep
        self._turn = asyncio.Lock()  # one waiter at a time asks; the rest queue in order (FIFO)
        self._answer = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.replica = replica or settings.replica or socket.gethostname()[:63]
        m = self.metrics = metrics
        self._calls = m.budget_calls.labels(self.replica)
        self._delay = m.budget_delay_seconds
        # Callers of wait() holding its turn while they wait for time, an answer or the shared
        # schedule. While there are any, every newcomer queues on _turn behind them (FIFO);
        # otherwise a call the schedule allows goes at once, without the turn's lock: callers
        # queued on it only because others were (a convoy) would all go at once anyway.
        self._held_back = 0
        self._exported_at, self._export_pending = -math.inf, False
        self._throttled = m.budget_throttled.labels(self.replica)
        m.budget_shared.set(1 if shared is not None else 0)

    # --- the model's view, for metrics, logs and tests ------------------------------------------

    @property
    def total(self) -> int | None:
        return self._schedule.model.total

    @property
    def remaining(self) -> int | None:
        return self._schedule.model.remaining

    @property
    def window_s(self) -> float:
        return self._schedule.model.window_s

    def rate(self) -> float | None:
        """Calls per second this consumer paces at (all replicas together); None: not paced."""
        s = self._schedule
        return None if s.headerless or not s.paced else s.model.rate()

    def __repr__(self) -> str:
        return (f"AccountBudget(replica={self.replica!r}, shared={self._shared!r}, "
                f"{self._schedule.model.describe()})")

    # --- the delivery loop's calls ---------------------------------------------------------------

    async def wait(self) -> None:
        """Return when this process may make one call now (the call is counted as made)."""
        if not self._held_back:  # nobody waits for time or an answer: a call may go at once
            now = self._clock()
            if self._schedule.before_take(now) <= 0 and self._take_here(now) == 0:
                self._delay.observe(0.0)
                return
        started = self._clock()
        async with self._turn:
            while True:
                now = self._clock()
                delay = self._schedule.before_take(now)
                self._held_back += 1  # newcomers queue behind us (FIFO) while we wait
                try:
                    if delay == FOR_AN_ANSWER:
                        await self._next_answer()
                        continue
                    if delay <= 0:
                        delay = await self._take(now)
                        if delay <= 0:
                            break
                    await self._sleep(delay)
                finally:
                    self._held_back -= 1
        self._delay.observe(max(0.0, self._clock() - started))

    def observe(self, total: int | None, remaining: int | None, used: int | None = None) -> None:
        """Every answer, 429s and 4xx included (they count too); None, None when none came.

        ``used`` (X-RateLimit-Used-CurrentRequest) is taken as one call: Freshdesk charges the
        activity endpoint 1, and the window's Remaining already counts whatever it charged.
        """
        now = self._clock()
        self._calls.inc()  # a call made (one given back unused never was)
        self._schedule.on_answer(now, total, remaining)
        self._answered_unpushed += 1
        self._answer.set()
        if total is not None and remaining is not None:
            self._export_soon(now)

    def throttle(self, retry_after_s: float) -> None:
        """Freshdesk answered 429: nobody calls it for ``retry_after_s`` (every replica, if shared)."""
        self._throttled.inc()
        self._schedule.on_throttled(self._clock(), retry_after_s)
        if self._shared is not None and self._clock() >= self._shared_until:
            self._spawn(self._close_shared(retry_after_s))

    def unused(self) -> None:
        self._schedule.on_unused()
        # Like an answer, it frees the call counted in flight: a caller waiting for one (before
        # the first headers, or at the bottom of the window) must not wait for an answer that
        # will never come (a restart's first jobs are often ones its predecessor delivered).
        self._answer.set()

    @property
    def throttled_for(self) -> float:
        return max(0.0, self._schedule.closed_until - self._clock())

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._shared is not None:
            await self._shared.aclose()

    # --- inside -------------------------------------------------------------------------------

    async def _next_answer(self) -> None:
        self._answer.clear()
        try:
            # Not wait_for: on 3.11 it can swallow a cancel that lands as the event is set.
            async with asyncio.timeout(_STALE_IN_FLIGHT_S):
                await self._answer.wait()
        except TimeoutError:
            log.warning("budget: no answer in %.0fs to the %d calls counted in flight; "
                        "forgetting them", _STALE_IN_FLIGHT_S, self._schedule.in_flight)
            self._schedule.forget_in_flight()

    def _take_here(self, now: float) -> float | None:
        """The local schedule's answer (0: go, the call is counted; else seconds to wait), or
        None when the shared schedule must be asked."""
        s = self._schedule
        if (self._shared is None or s.headerless or not s.paced or now < self._shared_until
                or s.interval() is None):
            return s.take_local(now)
        return None

    async def _take(self, now: float) -> float:
        local = self._take_here(now)
        if local is not None:
            return local
        s, interval = self._schedule, self._schedule.interval()
        assert self._shared is not None and interval is not None
        pushed = self._answered_unpushed
        try:
            got = await self._shared.take(interval, s.tolerance(interval), pushed)
        except SharedUnavailable as e:
            self._shared_away(str(e))
            return s.take_local(self._clock())
        if self._shared_until:
            self._shared_until, self._away_since = 0.0, None
            self.metrics.budget_shared.set(1)
            log.warning("budget: the shared schedule answers again; replicas pace together")
            if self._store_shown:
                self._store_shown = False
                self._on_store(None)
        self._answered_unpushed -= pushed
        self._mine_answered += pushed
        if got.wait_s == 0:
            s.on_taken(self._clock())
            self._mine_taken += 1
        # Counters that expired or were flushed restart below ours: peers are never negative.
        s.sync(max(0, got.taken - self._mine_taken), max(0, got.answered - self._mine_answered))
        return got.wait_s

    async def _close_shared(self, seconds: float) -> None:
        assert self._shared is not None
        try:
            await self._shared.close_for(seconds)
        except SharedUnavailable as e:
            self._shared_away(str(e))

    def _shared_away(self, why: str) -> None:
        now = self._clock()
        first = self._shared_until == 0.0
        self._shared_until = now + _RETRY_SHARED_S
        self.metrics.budget_shared.set(0)
        if first:
            self._away_since = now
            log.warning("budget: %s; pacing on this replica's own headers until it answers "
                        "(delivery goes on)", why)
        elif not self._store_shown and now - (self._away_since or now) >= _SHOW_AWAY_S:
            self._store_shown = True  # past the fallback's grace: say so (readiness, alert)
            self._on_store(f"the shared budget store (Redis) has not answered for "
                           f"{now - (self._away_since or now):.0f}s: {why}; pacing alone")

    def _export_soon(self, now: float) -> None:
        """The window gauges, at most every ``_EXPORT_EVERY_S`` (an answer's worth of change is
        not worth six gauge writes per call), and always the latest within that time."""
        if self._export_pending:
            return
        if now >= self._exported_at + _EXPORT_EVERY_S:
            self._export()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): now
            self._export()
            return
        self._export_pending = True
        loop.call_later(self._exported_at + _EXPORT_EVERY_S - now, self._export)

    def _export(self) -> None:
        self._export_pending = False
        self._exported_at = self._clock()
        model, m = self._schedule.model, self.metrics
        if model.total is None:
            return
        m.budget_total.set(model.total)
        m.budget_remaining.set(model.remaining or 0)
        m.budget_used.set(model.total - (model.remaining or 0))
        m.budget_available.set(model.total - model.kept())
        m.budget_others.set(model.others())
        m.budget_window_seconds.set(model.window_s)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
