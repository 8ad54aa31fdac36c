"""AccountBudget, the delivery loop's side: waiting on a fake clock, Retry-After, metrics, secrets."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from consumer.config import BudgetSettings
from consumer.delivery.budget import AccountBudget
from consumer.delivery.budget import pacer as pacer_module
from consumer.delivery.budget.shared import SharedSchedule
from consumer.metrics import Metrics


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def budget(fake: FakeTime, settings: BudgetSettings | None = None, **kw) -> AccountBudget:
    return AccountBudget(settings or BudgetSettings(window_s=60),
                         metrics=Metrics(CollectorRegistry()), clock=fake.clock, sleep=fake.sleep,
                         replica="pod-a", **kw)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_first_call_goes_alone_and_its_answer_opens_the_pace():
    async def scenario():
        fake = FakeTime()
        b = budget(fake)
        first, second = asyncio.create_task(b.wait()), asyncio.create_task(b.wait())
        await settle()
        assert first.done() and not second.done(), "nothing known yet: one call to learn"
        b.observe(600, 599, 1)
        await asyncio.wait_for(second, 1)
        assert b.rate() == pytest.approx((600 - 60 - 6) / 60)

    asyncio.run(scenario())


def test_calls_wait_their_turn_at_the_paced_rate():
    async def scenario():
        fake = FakeTime()
        b = budget(fake)
        await b.wait()
        b.observe(600, 599)
        start = fake.t
        for i in range(10):
            await b.wait()
            b.observe(600, 598 - i)
        return fake.t - start, 1 / b.rate()

    elapsed, interval = asyncio.run(scenario())
    assert elapsed == pytest.approx(8 * interval), "two at once (the tolerance), then one per interval"


def test_a_429_holds_every_waiter_for_retry_after():
    async def scenario():
        fake = FakeTime()
        b = budget(fake)
        await b.wait()
        b.observe(600, 0)
        b.throttle(7)
        assert b.throttled_for == pytest.approx(7)
        start = fake.t
        await b.wait()
        return fake.t - start

    assert asyncio.run(scenario()) >= 7


def test_without_settings_only_retry_after_holds_calls_back():
    async def scenario():
        fake = FakeTime()
        b = AccountBudget(None, metrics=Metrics(CollectorRegistry()), clock=fake.clock,
                          sleep=fake.sleep)
        for _ in range(50):
            await b.wait()
        b.observe(10, 0)
        await b.wait()
        assert fake.slept == []
        b.throttle(2)
        await b.wait()
        return fake.slept

    assert asyncio.run(scenario()) == [2]


def test_calls_lost_in_flight_are_forgotten_after_a_while(monkeypatch):
    monkeypatch.setattr(pacer_module, "_STALE_IN_FLIGHT_S", 0.01)

    async def scenario():
        b = budget(FakeTime())
        await b.wait()  # taken, never answered (the request vanished)
        await asyncio.wait_for(b.wait(), 2)

    asyncio.run(scenario())


def test_metrics_count_calls_by_replica_and_the_pacing_delay():
    async def scenario():
        fake = FakeTime()
        b = budget(fake)
        await b.wait()
        b.observe(600, 500)
        await b.wait()
        b.observe(None, None)  # made, no answer (refused): counted
        await b.wait()
        b.unused()  # taken, then given back unsent: not a call
        b.throttle(1)
        return b.metrics.registry

    registry = asyncio.run(scenario())
    value = registry.get_sample_value
    assert value("activity_consumer_budget_calls_total", {"replica": "pod-a"}) == 2
    assert value("activity_consumer_budget_throttled_total", {"replica": "pod-a"}) == 1
    assert value("activity_consumer_budget_pacing_delay_seconds_count") == 3
    assert value("activity_consumer_budget_window_used_calls") == 100
    # 100 used, one of them ours: the others spent 99, more than the 60 of the reserve.
    assert value("activity_consumer_budget_others_calls") == 99
    assert value("activity_consumer_budget_window_available_calls") == 600 - 99
    assert value("activity_consumer_budget_shared") == 0


def test_the_redis_password_is_never_in_a_repr():
    shared = SharedSchedule("redis://user:s3cr%21t@127.0.0.1:1/0", "acme.freshdesk.com")
    b = budget(FakeTime(), shared=shared)
    assert "s3cr" not in repr(b) and "s3cr" not in repr(shared) and "***" in repr(shared)
    asyncio.run(shared.aclose())


def test_a_caller_never_overtakes_one_already_waiting_for_its_turn():
    """Most calls go at once without the queue's lock; one arriving while another sleeps for its
    turn (the loop busy, its timer not yet fired) must queue behind it, not slip through."""
    class HeldTime(FakeTime):
        def __init__(self) -> None:
            super().__init__()
            self.wake = asyncio.Event()

        async def sleep(self, seconds: float) -> None:
            self.slept.append(seconds)
            await self.wake.wait()

    async def scenario():
        fake = HeldTime()
        b = budget(fake)
        await b.wait()
        b.observe(600, 599)
        await b.wait()
        await b.wait()  # the tolerance's two at once: the next one must wait an interval
        order: list[str] = []

        async def call(name: str) -> None:
            await b.wait()
            order.append(name)

        first = asyncio.create_task(call("first"))
        await settle()
        assert fake.slept and not first.done(), "first sleeps for its turn"
        fake.t += 1.0  # time passes; first's timer has not fired yet
        second = asyncio.create_task(call("second"))
        await settle()
        fake.wake.set()
        await asyncio.wait_for(asyncio.gather(first, second), 2)
        return order

    assert asyncio.run(scenario()) == ["first", "second"]


def test_callers_queued_only_behind_each_other_do_not_hold_back_newcomers():
    """Fifty calls queue for the first answer (nothing known yet). Once it came, none of them
    waits for time, so a newcomer goes at once: a queue of calls that may all go now is not a
    reason to queue (at a few thousand calls a second such a convoy never drained before)."""
    async def scenario():
        b = budget(FakeTime())
        await b.wait()
        queued = [asyncio.create_task(b.wait()) for _ in range(50)]
        await settle()
        assert not any(q.done() for q in queued), "one call at a time until the headers speak"
        b.observe(60_000, 59_999)
        newcomers = [asyncio.create_task(b.wait()) for _ in range(5)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        done = sum(q.done() for q in queued), sum(n.done() for n in newcomers)
        await asyncio.wait_for(asyncio.gather(*queued, *newcomers), 2)
        return done

    queued_done, newcomers_done = asyncio.run(scenario())
    assert newcomers_done == 5
    assert queued_done < 50, "the queue drains one lock hand-over per loop pass"


def test_window_gauges_are_written_at_most_twice_a_second_and_always_end_on_the_latest():
    async def scenario():
        fake = FakeTime()
        b = budget(fake)
        registry = b.metrics.registry
        remaining = lambda: registry.get_sample_value("activity_consumer_freshdesk_budget_remaining")  # noqa: E731
        for left in range(599, 589, -1):  # ten answers in the same instant
            await b.wait()
            b.observe(600, left)
        seen_at_once = remaining()
        deadline = asyncio.get_running_loop().time() + 5
        while remaining() != 590 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # the deferred write runs on the loop within 0.5 s
        return seen_at_once, remaining()

    at_once, later = asyncio.run(scenario())
    assert at_once == 599, "the first answer is written at once, the next nine are not"
    assert later == 590, "the latest Remaining is written within half a second"
