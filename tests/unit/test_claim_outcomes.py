"""A claim is given back only when we know nothing reached Freshdesk; an unknown outcome keeps it.

Defect this proves fixed: a job cancelled while its POST was on the wire released its key, so the
partition's next owner claimed it and posted the activity a second time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from prometheus_client import CollectorRegistry

from consumer.config import FreshdeskSettings, RetrySettings
from consumer.delivery.answers import Answer, Reply
from consumer.delivery.deliverer import Deliverer
from consumer.job import ABANDONED, Job
from consumer.ledger import Claim, MemoryLedger
from consumer.message import Message
from consumer.metrics import Metrics
from consumer.outcomes import Delivery

KEY = "orders:evt-1"
SETTINGS = FreshdeskSettings(base_url="http://127.0.0.1:1", api_key="k",
                             retry=RetrySettings(initial_backoff_s=0.001, max_backoff_s=0.002,
                                                 max_attempts=2))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StoringFreshdesk:
    """Stores the body as soon as the request arrives; answers only when told to."""

    url = "http://fake"

    def __init__(self, replies: list[Reply] | None = None) -> None:
        self.stored: list[bytes] = []
        self.arrived = asyncio.Event()
        self.answer = asyncio.Event()
        self.replies = replies

    async def post(self, body: bytes) -> Reply:
        if self.replies is not None:
            return self.replies.pop(0)
        self.stored.append(body)
        self.arrived.set()
        await self.answer.wait()
        return Reply(Answer.DELIVERED, 200, "{}")

    async def aclose(self) -> None:
        pass


def one_job() -> Job:
    return Job(Message("orders", 0, 7, None, b"{}", (), None),
               (Delivery(KEY, "email:r@example.com", b"body"),))


def deliverer_for(freshdesk, ledger) -> tuple[Deliverer, Metrics]:
    metrics = Metrics(CollectorRegistry())
    return Deliverer(freshdesk, SETTINGS, ledger=ledger, metrics=metrics), metrics


async def deliver_one(freshdesk, ledger) -> tuple[object, Metrics]:
    """One job to its end; then the loop runs the claim's release, sent as its own task."""
    deliverer, metrics = deliverer_for(freshdesk, ledger)
    done = concurrent.futures.Future()
    deliverer.start([(one_job(), done)])
    result = await asyncio.wrap_future(done)
    for _ in range(10):  # a few turns of the loop: the release task has no I/O to wait for
        await asyncio.sleep(0)
    return result, metrics


def unknown(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("activity_consumer_unknown_outcomes_total") or 0.0


def test_a_shutdown_with_the_post_on_the_wire_keeps_the_claim_until_its_lease_ends():
    clock = Clock()
    ledger = MemoryLedger(lease_s=60, clock=clock)
    freshdesk = StoringFreshdesk()

    async def scenario():
        deliverer, metrics = deliverer_for(freshdesk, ledger)
        done = concurrent.futures.Future()
        deliverer.start([(one_job(), done)])
        await freshdesk.arrived.wait()  # Freshdesk has stored it; its 200 is not read yet
        await deliverer.aclose(timeout=5)  # shutdown past the drain: the request is cut off
        return done.result(), metrics

    result, metrics = asyncio.run(scenario())
    assert result is ABANDONED
    assert len(freshdesk.stored) == 1
    next_owner = ledger.for_owner("next-owner")
    assert asyncio.run(next_owner.claim(KEY)) is Claim.BUSY, (
        "the outcome is unknown: nobody may post it again while the lease holds")
    assert unknown(metrics) == 1
    clock.now += 61
    assert asyncio.run(next_owner.claim(KEY)) is Claim.CLAIMED, "after the lease, it is free"


def test_abandon_does_not_cut_a_request_on_the_wire_its_200_is_recorded():
    ledger = MemoryLedger()
    freshdesk = StoringFreshdesk()

    async def scenario():
        deliverer, _ = deliverer_for(freshdesk, ledger)
        done = concurrent.futures.Future()
        deliverer.start([(one_job(), done)])
        await freshdesk.arrived.wait()
        deliverer.abandon([done])  # a revoke while the POST is on the wire
        assert not done.done(), "a job on the wire is waited for, not cut off"
        freshdesk.answer.set()
        return await asyncio.wrap_future(done)

    assert asyncio.run(scenario()) is None, "its answer was news: delivered"
    assert asyncio.run(ledger.for_owner("next").claim(KEY)) is Claim.DELIVERED


def test_a_timeout_then_giving_up_keeps_the_claim():
    ledger = MemoryLedger(lease_s=60, clock=Clock())
    timeout = Reply(Answer.TRANSIENT, None, "timed out: ReadTimeout", sent=True)
    freshdesk = StoringFreshdesk(replies=[timeout, Reply(Answer.TRANSIENT, 503, "busy")])

    failure, metrics = asyncio.run(deliver_one(freshdesk, ledger))
    assert failure.reason == "retries_exhausted"
    assert asyncio.run(ledger.for_owner("redrive").claim(KEY)) is Claim.BUSY, (
        "the first attempt may have been stored although the second was answered 503")
    assert unknown(metrics) == 1


def test_answers_that_prove_nothing_was_stored_give_the_claim_back():
    ledger = MemoryLedger(lease_s=60, clock=Clock())
    refused = Reply(Answer.TRANSIENT, None, "connection failed: ConnectError", sent=False)
    freshdesk = StoringFreshdesk(replies=[refused, Reply(Answer.REJECTED, 400, "{}")])

    failure, metrics = asyncio.run(deliver_one(freshdesk, ledger))
    assert failure.reason == "rejected"
    assert asyncio.run(ledger.for_owner("redrive").claim(KEY)) is Claim.CLAIMED
    assert unknown(metrics) == 0
