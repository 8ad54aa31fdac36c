"""The pacing budget fits today's call sites in delivery (wait, throttled_for, throttle, observe)."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from consumer.budget import AccountBudget, BudgetSettings
from consumer.delivery import Deliverer
from consumer.freshdesk import Answer, Reply
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
