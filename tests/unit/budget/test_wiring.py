"""The pacing budget fits today's call sites in delivery (wait, throttled_for, throttle, observe)."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from consumer.config import BudgetSettings
from consumer.delivery.answers import Answer, Reply
from consumer.delivery.budget import AccountBudget
from consumer.delivery.deliverer import Deliverer
from consumer.metrics import Metrics
from tests.unit.test_delivery import FakeFreshdesk, job, settings, start


def test_delivery_runs_on_the_pacing_budget_and_every_call_is_counted():
    async def scenario():
        metrics = Metrics(CollectorRegistry())
        budget = AccountBudget(BudgetSettings(window_s=60), metrics=metrics, replica="pod-a")
        throttled = Reply(Answer.THROTTLED, 429, "", retry_after=0.05, budget_total=60_000,
                          budget_remaining=0)
        fake = FakeFreshdesk([throttled] + [Reply(Answer.DELIVERED, 200, "{}", None, 60_000, r)
                                            for r in range(59_999, 59_900, -1)], latency=0.001)
        deliverer = Deliverer(fake, settings(), budget=budget)
        futures = start(deliverer, [job(i, f"c{i}") for i in range(30)])
        settled = await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, futures)), 30)
        await budget.aclose()
        return settled, fake, metrics, budget

    settled, fake, metrics, budget = asyncio.run(scenario())
    assert list(settled) == [None] * 30 and len(fake.calls) == 31
    assert metrics.registry.get_sample_value("activity_consumer_budget_throttled_total",
                                             {"replica": "pod-a"}) == 1
    assert budget.rate() is not None and budget.total == 60_000


def test_calls_not_made_free_the_budget_at_once_so_a_restart_does_not_wait_for_answers():
    """A restarted replica's first jobs are often ones its predecessor delivered: the ledger
    knows them, no call is made. Before the first headers the pacer lets one call out at a time
    and waits for its answer; a call not made must free it at once, not after the 30 s a lost
    answer is given, and a job abandoned while waiting for a request slot must give its call back."""
    async def scenario():
        from consumer.ledger import Claim, MemoryLedger

        class RedisLikeLedger(MemoryLedger):  # a claim takes a round trip, as Redis's does
            async def claim(self, key: str) -> Claim:
                await asyncio.sleep(0.001)
                return await super().claim(key)

        ledger = RedisLikeLedger()
        for i in range(5):  # the predecessor's deliveries, not yet committed
            assert await ledger.claim(f"key-{i}") is not None
            await ledger.delivered(f"key-{i}")
        budget = AccountBudget(BudgetSettings(window_s=60), metrics=Metrics(CollectorRegistry()))
        fake = FakeFreshdesk([Reply(Answer.DELIVERED, 200, "{}", None, 60_000, r)
                              for r in range(59_999, 59_900, -1)], latency=0.001)
        deliverer = Deliverer(fake, settings(max_in_flight=1), budget=budget, ledger=ledger)
        futures = start(deliverer, [job(i, f"c{i}") for i in range(12)])
        settled = await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, futures)), 10)
        # Abandoned while waiting for the one request slot: their calls are given back.
        slow = FakeFreshdesk([], latency=0.2)
        deliverer.client = slow
        more = start(deliverer, [job(100 + i, f"d{i}") for i in range(6)])
        while not slow.calls:
            await asyncio.sleep(0.001)
        deliverer.abandon(more[1:])
        await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, more)), 10)
        in_flight = budget._schedule.in_flight
        await budget.aclose()
        return settled, fake, in_flight

    settled, fake, in_flight = asyncio.run(scenario())
    assert list(settled) == [None] * 12
    assert len(fake.calls) == 7, "the 5 the ledger knew are not posted again"
    assert in_flight == 0, f"{in_flight} calls still counted in flight after every job ended"
