"""The delivery station against a scripted fake Freshdesk (no I/O): ordering, budget, halt, retries."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict

import pytest

from consumer.config import FreshdeskSettings, RetrySettings
from consumer.delivery import Deliverer, Delivery, Job
from consumer.freshdesk import Answer, Reply
from consumer.message import Message

OK = Reply(Answer.DELIVERED, 200, "{}")


class FakeFreshdesk:
    """Answers from a script (then 200s), taking ``latency`` per call; records what it saw."""

    url = "http://fake"

    def __init__(self, script=(), latency=0.01):
        self.script = list(script)
        self.latency = latency
        self.calls: list[tuple[float, bytes]] = []
        self.active: dict[bytes, int] = defaultdict(int)
        self.max_active_per_contact = 0
        self.max_active = 0
        self._active_total = 0

    async def post(self, body: bytes) -> Reply:
        contact = body.split(b"|")[0]
        self.calls.append((time.monotonic(), body))
        self.active[contact] += 1
        self._active_total += 1
        self.max_active_per_contact = max(self.max_active_per_contact, self.active[contact])
        self.max_active = max(self.max_active, self._active_total)
        try:
            await asyncio.sleep(self.latency)
            return self.script.pop(0) if self.script else OK
        finally:
            self.active[contact] -= 1
            self._active_total -= 1


def settings(**kw) -> FreshdeskSettings:
    retry = RetrySettings(initial_backoff_s=0.001, max_backoff_s=0.002, max_attempts=3)
    return FreshdeskSettings(base_url="http://127.0.0.1:1", api_key="k", halt_probe_interval_s=0.05,
                             retry=retry, **kw)


def job(offset: int, contact: str, partition: int = 0) -> Job:
    msg = Message("orders", partition, offset, None, b"{}", (), None)
    return Job(msg, [Delivery(f"key-{offset}", contact, f"{contact}|{offset}".encode())])


async def run_jobs(fake, jobs, cfg=None, until=None):
    settled: list[tuple[int, object]] = []
    deliverer = Deliverer(fake, cfg or settings(), lambda j, f: settled.append((j.message.offset, f)))
    for j in jobs:
        deliverer.start(j)
    deadline = time.monotonic() + 5
    while len(settled) < (until if until is not None else len(jobs)):
        assert time.monotonic() < deadline, f"settled only {settled}"
        await asyncio.sleep(0.005)
    return deliverer, settled


def test_one_contact_goes_one_at_a_time_in_order_and_contacts_go_in_parallel():
    fake = FakeFreshdesk(latency=0.02)
    jobs = [job(i, "rachel" if i % 2 == 0 else f"other{i}") for i in range(10)]
    _, settled = asyncio.run(run_jobs(fake, jobs))
    assert all(f is None for _, f in settled)
    rachel = [body for _, body in fake.calls if body.startswith(b"rachel|")]
    assert rachel == [f"rachel|{i}".encode() for i in range(0, 10, 2)]
    assert fake.max_active_per_contact == 1
    assert fake.max_active > 1, "different contacts must go out in parallel"


def test_in_flight_requests_never_exceed_the_limit():
    fake = FakeFreshdesk(latency=0.02)
    asyncio.run(run_jobs(fake, [job(i, f"c{i}") for i in range(40)], cfg=settings(max_in_flight=4)))
    assert fake.max_active == 4


def test_a_429_stops_every_request_until_retry_after_has_passed():
    fake = FakeFreshdesk([Reply(Answer.THROTTLED, 429, "", retry_after=0.3)], latency=0.001)
    start = time.monotonic()
    _, settled = asyncio.run(run_jobs(fake, [job(i, f"c{i}") for i in range(5)],
                                      cfg=settings(max_in_flight=1)))
    assert all(f is None for _, f in settled)
    first, *rest = [t - start for t, _ in fake.calls]
    assert first < 0.1 and all(t >= 0.3 for t in rest), "nobody may call during Retry-After"
    assert len(fake.calls) == 6


def test_halt_posts_one_probe_at_a_time_settles_nothing_and_resumes_on_success():
    halt = Reply(Answer.HALT, 401, '{"code":"invalid_credentials"}')
    fake = FakeFreshdesk([halt] * 10, latency=0.001)  # 6 first tries + 4 probes

    async def scenario():
        deliverer, settled = await run_jobs(fake, [job(i, f"c{i}") for i in range(6)], until=0)
        await asyncio.sleep(0.08)
        assert not deliverer.gate.is_open and "API key is wrong" in deliverer.gate.reason
        assert settled == [], "a halt settles nothing, so nothing is committed"
        while len(settled) < 6:
            await asyncio.sleep(0.01)
        return deliverer, settled

    deliverer, settled = asyncio.run(scenario())
    assert deliverer.gate.is_open
    assert all(f is None for _, f in settled)
    probes = [t for t, _ in fake.calls[6:11]]  # after the 6 first tries: one request at a time
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert len(gaps) == 4 and all(g >= 0.045 for g in gaps), gaps
    assert len(fake.calls) == 6 + 4 + 6, "4 failed probes, then the 6 activities once each"


def test_transient_failures_retry_then_dead_letter_as_retries_exhausted():
    errors = [Reply(Answer.TRANSIENT, 503, "busy")] * 3
    fake = FakeFreshdesk(errors, latency=0.001)
    _, settled = asyncio.run(run_jobs(fake, [job(0, "c")]))
    ((_, failure),) = settled
    assert failure.reason == "retries_exhausted" and failure.attempts == 3
    assert failure.status == 503 and "3 attempts" in failure.error
    assert failure.first_failure <= failure.last_failure


def test_a_400_is_dead_lettered_at_once_with_freshdesks_answer():
    body = '{"description":"Validation failed","errors":[{"field":"email","code":"invalid_value"}]}'
    fake = FakeFreshdesk([Reply(Answer.REJECTED, 400, body)], latency=0.001)
    _, settled = asyncio.run(run_jobs(fake, [job(0, "c"), job(1, "d")]))
    failures = dict(settled)
    assert failures[0].reason == "rejected" and failures[0].status == 400
    assert failures[0].response == body and failures[0].attempts == 1
    assert failures[1] is None, "the next message is delivered"


def test_quiesce_finishes_what_the_watermark_needs_and_abandons_the_rest():
    async def scenario():
        fake = FakeFreshdesk(latency=0.05)
        settled: list[int] = []
        deliverer = Deliverer(fake, settings(max_in_flight=2), lambda j, f: settled.append(
            j.message.offset))
        # offset 0 and 1 go on the wire; 2..5 wait for a slot.
        for i in range(6):
            deliverer.start(job(i, f"c{i}"))
        await asyncio.sleep(0.01)
        deliverer.quiesce(None)
        while deliverer.in_flight():
            await asyncio.sleep(0.01)
        return fake, settled

    fake, settled = asyncio.run(scenario())
    assert sorted(settled) == [0, 1], "requests on the wire finish; waiting ones are abandoned"
    assert len(fake.calls) == 2


@pytest.mark.parametrize("waiting_offset", [1])
def test_quiesce_keeps_jobs_below_the_cut_so_the_watermark_reaches_delivered_ones(waiting_offset):
    async def scenario():
        fake = FakeFreshdesk(latency=0.05)
        settled: list[int] = []
        deliverer = Deliverer(fake, settings(), lambda j, f: settled.append(j.message.offset))
        deliverer.start(job(0, "busy"))
        deliverer.start(job(waiting_offset, "busy"))  # waits behind offset 0 for its contact
        deliverer.start(job(2, "free"))  # on the wire
        await asyncio.sleep(0.01)
        deliverer.quiesce({("orders", 0)})
        while deliverer.in_flight():
            await asyncio.sleep(0.01)
        return settled

    assert sorted(asyncio.run(scenario())) == [0, 1, 2]
