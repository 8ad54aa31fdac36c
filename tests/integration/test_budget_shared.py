"""The replicas' shared schedule in a real Redis: one budget for all, Retry-After for all, nothing
held by a replica that dies, and local pacing (never a stop) while Redis is away."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from consumer.config import BudgetSettings
from consumer.delivery.budget import AccountBudget
from consumer.delivery.budget import pacer as pacer_module
from consumer.delivery.budget.shared import SharedSchedule, SharedUnavailable
from consumer.metrics import Metrics

pytestmark = pytest.mark.integration

ACCOUNT = "acme.freshdesk.com"


def test_replicas_take_their_calls_from_one_schedule(redis_url):
    async def scenario():
        a, b = SharedSchedule(redis_url, ACCOUNT), SharedSchedule(redis_url, ACCOUNT)
        other_account = SharedSchedule(redis_url, "other.freshdesk.com")
        try:
            # One call per 10 s, one early at most: two go at once, whoever asks.
            first = await a.take(10, 10, answered=0)
            second = await b.take(10, 10, answered=0)
            third = await a.take(10, 10, answered=0)
            elsewhere = await other_account.take(10, 10, answered=0)
            counted = await b.take(10, 10, answered=2)
        finally:
            for s in (a, b, other_account):
                await s.aclose()
        return first, second, third, elsewhere, counted

    first, second, third, elsewhere, counted = asyncio.run(scenario())
    assert first.wait_s == 0 and second.wait_s == 0
    assert 9 < third.wait_s <= 10, "the third call waits for the schedule, not for its replica"
    assert elsewhere.wait_s == 0, "another account has a schedule of its own"
    assert (counted.taken, counted.answered) == (2, 2), "calls taken and answered by all replicas"


def test_a_429_closes_the_schedule_for_every_replica(redis_url):
    async def scenario():
        a, b = SharedSchedule(redis_url, ACCOUNT), SharedSchedule(redis_url, ACCOUNT)
        try:
            await a.close_for(30)
            await a.close_for(5)  # a shorter Retry-After never reopens it early
            return await b.take(0.001, 0.001, answered=0)
        finally:
            await a.aclose()
            await b.aclose()

    assert 29 < asyncio.run(scenario()).wait_s <= 30


def test_a_replica_that_dies_holds_nothing(redis_url):
    async def scenario():
        dying = SharedSchedule(redis_url, ACCOUNT)
        await dying.take(0.5, 0.5, answered=0)  # takes a call and is never heard of again
        await dying.aclose()
        survivor = SharedSchedule(redis_url, ACCOUNT)
        try:
            return await survivor.take(0.5, 0.5, answered=0)
        finally:
            await survivor.aclose()

    assert asyncio.run(scenario()).wait_s == 0, "nothing to release, nothing to expire"


def test_errors_name_the_redis_without_its_password():
    async def scenario():
        s = SharedSchedule("redis://:hunter2@127.0.0.1:1/0", ACCOUNT, timeout_s=0.5)
        try:
            with pytest.raises(SharedUnavailable) as caught:
                await s.take(1, 1, answered=0)
        finally:
            await s.aclose()
        return str(caught.value)

    message = asyncio.run(scenario())
    assert "hunter2" not in message and "redis://:***@127.0.0.1:1/0" in message


def test_redis_away_means_local_pacing_with_a_warning_then_shared_again(
        redis_server, redis_url, monkeypatch, caplog):
    monkeypatch.setattr(pacer_module, "_RETRY_SHARED_S", 0.0)  # ask Redis again at every call

    async def scenario():
        metrics = Metrics(CollectorRegistry())
        shared = SharedSchedule(redis_url, ACCOUNT, timeout_s=0.5)
        budget = AccountBudget(BudgetSettings(backend="redis", window_s=60), shared=shared,
                               metrics=metrics, replica="r0")
        value = metrics.registry.get_sample_value
        try:
            await budget.wait()
            budget.observe(100_000, 99_999)
            await budget.wait()
            budget.observe(100_000, 99_998)
            assert value("activity_consumer_budget_shared") == 1
            redis_server.stop()
            await budget.wait()  # still answers: paced on this replica's headers
            budget.observe(100_000, 99_997)
            away = value("activity_consumer_budget_shared")
            redis_server.start()
            await budget.wait()
            return away, value("activity_consumer_budget_shared")
        finally:
            await budget.aclose()

    with caplog.at_level(logging.WARNING, logger="consumer.budget"):
        away, back = asyncio.run(scenario())
    assert (away, back) == (0, 1)
    messages = [r.getMessage() for r in caplog.records]
    assert any("pacing on this replica's own headers" in m for m in messages)
    assert any("answers again" in m for m in messages)
