"""The delivery station against a scripted fake Freshdesk (no I/O): ordering, budget, halt, retries."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import time
from collections import defaultdict

from consumer.config import FreshdeskSettings, RetrySettings
from consumer.delivery.account import AccountHealth
from consumer.delivery.answers import Answer, Reply
from consumer.delivery.deliverer import Deliverer
from consumer.job import ABANDONED, Job
from consumer.message import Message
from consumer.outcomes import Delivery

OK = Reply(Answer.DELIVERED, 200, "{}")


class FakeFreshdesk:
    """Answers from a script (then 200s), taking ``latency`` per call; records what it saw."""

    url = "http://fake"

    def __init__(self, script=(), latency=0.01, by_contact=None):
        self.script = list(script)
        self.by_contact = by_contact or {}  # contact → its own script, before the shared one
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
            own = self.by_contact.get(contact.decode())
            if own:
                return own.pop(0)
            return self.script.pop(0) if self.script else OK
        finally:
            self.active[contact] -= 1
            self._active_total -= 1


def settings(**kw) -> FreshdeskSettings:
    retry = RetrySettings(initial_backoff_s=0.001, max_backoff_s=0.002, max_attempts=3)
    return FreshdeskSettings(base_url="http://127.0.0.1:1", api_key="k", halt_probe_interval_s=0.05,
                             retry=retry, **kw)


def job(offset: int, contact: str, partition: int = 0, activities: int = 1) -> Job:
    msg = Message("orders", partition, offset, None, b"{}", (), None)
    names = [str(offset)] if activities == 1 else [f"{offset}.{n}" for n in range(activities)]
    return Job(msg, tuple(Delivery(f"key-{name}", contact, f"{contact}|{name}".encode())
                          for name in names))


async def run_jobs(fake, jobs, cfg=None, ledger=None):
    """Start ``jobs`` in order; returns the deliverer and each job's result, in job order."""
    deliverer = Deliverer(fake, cfg or settings(), ledger=ledger)
    futures = start(deliverer, jobs)
    results = await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, futures)), 10)
    return deliverer, list(results)


def start(deliverer, jobs):
    futures = [concurrent.futures.Future() for _ in jobs]
    deliverer.start(zip(jobs, futures, strict=True))
    return futures


def test_one_contact_goes_one_at_a_time_in_order_and_contacts_go_in_parallel():
    fake = FakeFreshdesk(latency=0.02)
    jobs = [job(i, "rachel" if i % 2 == 0 else f"other{i}") for i in range(10)]
    _, results = asyncio.run(run_jobs(fake, jobs))
    assert results == [None] * 10
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
    _, results = asyncio.run(run_jobs(fake, [job(i, f"c{i}") for i in range(5)],
                                      cfg=settings(max_in_flight=1)))
    assert results == [None] * 5
    first, *rest = [t - start for t, _ in fake.calls]
    assert first < 0.1 and all(t >= 0.3 for t in rest), "nobody may call during Retry-After"
    assert len(fake.calls) == 6


def test_halt_posts_one_probe_at_a_time_settles_nothing_and_resumes_on_success():
    halt = Reply(Answer.HALT, 401, '{"code":"invalid_credentials"}')
    fake = FakeFreshdesk([halt] * 10, latency=0.001)  # 6 first tries + 4 probes
    halts: list[str | None] = []

    async def scenario():
        deliverer = Deliverer(fake, settings(), on_account=lambda _kind, why: halts.append(why))
        futures = start(deliverer, [job(i, f"c{i}") for i in range(6)])
        while len(fake.calls) < 7:  # the 6 first tries and the first probe
            await asyncio.sleep(0.005)
        assert not deliverer.gate.is_open and "API key is wrong" in deliverer.gate.reason
        assert not any(f.done() for f in futures), "a halt settles nothing: nothing is committed"
        results = await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, futures)), 10)
        return deliverer, results

    deliverer, results = asyncio.run(scenario())
    assert deliverer.gate.is_open and results == [None] * 6
    assert len(halts) == 2 and "API key is wrong" in halts[0] and halts[1] is None, (
        "the halt and the resume are told to the rest of the process (readiness)")
    probes = [t for t, _ in fake.calls[6:11]]  # after the 6 first tries: one request at a time
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert len(gaps) == 4 and all(g >= 0.045 for g in gaps), gaps
    assert len(fake.calls) == 6 + 4 + 6, "4 failed probes, then the 6 activities once each"


def test_a_5xx_on_one_body_while_others_succeed_retries_then_dead_letters_as_retries_exhausted():
    errors = [Reply(Answer.TRANSIENT, 500, "boom")] * 3
    fake = FakeFreshdesk(latency=0.01, by_contact={"bad": errors})
    others = [job(i, f"ok{i}") for i in range(1, 61)]  # their 200s come between bad's attempts
    deliverer, (failure, *rest) = asyncio.run(run_jobs(fake, [job(0, "bad"), *others]))
    assert rest == [None] * 60
    assert failure.reason == "retries_exhausted" and failure.attempts == 3
    assert failure.status == 500 and "3 attempts" in failure.error
    assert failure.first_failure <= failure.last_failure
    assert deliverer.gate.is_open, "one body's failures are not the account's"


def _deliver_all(fake, n: int, **overrides):
    """n jobs (contacts c0..c{n-1}) through a Deliverer on ``fake``: (deliverer, results, the
    account changes it reported)."""
    changes: list[tuple[str, str | None]] = []

    async def scenario():
        deliverer = Deliverer(fake, settings(**overrides),
                              on_account=lambda kind, why: changes.append((kind, why)))
        futures = start(deliverer, [job(i, f"c{i}") for i in range(n)])
        results = await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, futures)), 10)
        return deliverer, results
    deliverer, results = asyncio.run(scenario())
    return deliverer, results, changes


def test_every_recent_call_failing_is_the_accounts_outage_nothing_is_dead_lettered():
    errors = [Reply(Answer.TRANSIENT, 500, "boom")] * 12  # more than max_attempts x jobs' share
    fake = FakeFreshdesk(errors, latency=0.001)
    _, results, changes = _deliver_all(fake, 3, max_in_flight=2)
    assert results == [None] * 3, "delivered once the account answers again"
    assert changes[0][0] == "unavailable" and "status 500" in changes[0][1]
    assert changes[-1] == ("unavailable", None)


def test_refused_connections_on_every_call_close_the_gate_probe_one_at_a_time_and_resume():
    refused = Reply(Answer.UNAVAILABLE, None, "connection failed: refused", sent=False,
                    cause="connection")
    fake = FakeFreshdesk([refused] * 8, latency=0.001)
    deliverer, results, changes = _deliver_all(fake, 5)
    assert results == [None] * 5 and deliverer.gate.is_open
    assert [k for k, _ in changes] == ["unavailable", "unavailable"] and changes[1][1] is None
    assert deliverer.metrics.unreachable_since._value.get() == 0, "reachable again: 0"
    assert len(fake.calls) == 8 + 5, "the failed calls, then each activity once"


def test_503_blips_on_a_busy_account_are_retried_one_by_one_and_never_close_it():
    # The chaos proof's sandbox answers 10% of calls 503. Closing the whole account on each one
    # stalled delivery hundreds of times a minute: a blip is the request's to retry, not an outage.
    blip = Reply(Answer.UNAVAILABLE, 503, "Service Unavailable", cause="server_error")
    by_contact = {f"c{i}": [blip] * 4 for i in range(0, 60, 10)}  # 4 > max_attempts (3)
    fake = FakeFreshdesk(latency=0.005, by_contact=by_contact)
    _, results, changes = _deliver_all(fake, 60, max_in_flight=8)
    assert results == [None] * 60, "a 503 is never the message's fault"
    assert changes == [], "other calls kept succeeding: the account never closed"
    assert len(fake.calls) == 60 + 6 * 4


def test_account_health_needs_every_recent_call_failed_and_a_quiet_second():
    now = [100.0]
    health = AccountHealth(threshold=3, quiet_s=1.0, clock=lambda: now[0])
    fail, ok = Reply(Answer.UNAVAILABLE, 503, "x"), Reply(Answer.DELIVERED, 200, "{}")
    for _ in range(3):
        health.record(fail)
    assert health.failing, "nothing ever succeeded: a dead start closes at once"
    health.record(ok)
    assert not health.failing
    for _ in range(5):
        health.record(fail)
    assert not health.failing, "a success 0 s ago: the account is up, these are blips"
    now[0] += 1.0
    assert health.failing, "five failures and no success for a second: the account is down"
    health.record(Reply(Answer.HALT, 401, "x"))
    assert health.failing, "a halt says nothing about reachability"
    health.record(Reply(Answer.REJECTED, 400, "x"))
    assert not health.failing, "Freshdesk answered: it is up"


def test_give_up_after_dead_letters_what_waited_longer_for_an_unreachable_freshdesk():
    refused = Reply(Answer.UNAVAILABLE, None, "connection failed: refused", sent=False,
                    cause="connection")
    fake = FakeFreshdesk([refused] * 10_000, latency=0.001)
    _, results = asyncio.run(run_jobs(fake, [job(i, f"c{i}") for i in range(3)],
                                      cfg=settings(give_up_after_s=0.3)))
    assert [f.reason for f in results] == ["unavailable"] * 3
    assert all("give_up_after_s 0.3" in f.error for f in results)


def test_a_400_is_dead_lettered_at_once_with_freshdesks_answer():
    body = '{"description":"Validation failed","errors":[{"field":"email","code":"invalid_value"}]}'
    fake = FakeFreshdesk([Reply(Answer.REJECTED, 400, body)], latency=0.001)
    _, failures = asyncio.run(run_jobs(fake, [job(0, "c"), job(1, "d")]))
    assert failures[0].reason == "rejected" and failures[0].status == 400
    assert failures[0].response == body and failures[0].attempts == 1
    assert failures[1] is None, "the next message is delivered"


def test_a_message_with_several_activities_for_one_contact_goes_out_whole_before_the_next():
    # Shopify orders/updated can become "cancelled" + "refunded" for one customer; the next
    # message's activity for that customer must not slip in between (it once went A1, B1, A2).
    fake = FakeFreshdesk(latency=0.01)
    a = job(0, "x", activities=2)
    b = job(1, "x")
    _, results = asyncio.run(run_jobs(fake, [a, b]))
    assert results == [None, None]
    assert [body for _, body in fake.calls] == [b"x|0.0", b"x|0.1", b"x|1"]


def test_a_job_with_two_contacts_waits_for_both_and_keeps_each_contacts_order():
    fake = FakeFreshdesk(latency=0.01)
    first_x = job(0, "x")
    both = Job(Message("orders", 0, 1, None, b"{}", (), None),
               (Delivery("k-1y", "y", b"y|1"), Delivery("k-1x", "x", b"x|1")))
    then_y = job(2, "y")
    _, results = asyncio.run(run_jobs(fake, [first_x, both, then_y]))
    assert results == [None, None, None]
    bodies = [body for _, body in fake.calls]
    assert bodies.index(b"x|0") < bodies.index(b"x|1"), "x: message 0 before message 1"
    assert bodies.index(b"y|1") < bodies.index(b"y|2"), "y: message 1 before message 2"
    assert fake.max_active_per_contact == 1


def test_abandon_stops_waiting_jobs_at_once_and_lets_requests_on_the_wire_finish():
    async def scenario():
        fake = FakeFreshdesk(latency=0.05)
        deliverer = Deliverer(fake, settings(max_in_flight=2))
        futures = start(deliverer, [job(i, f"c{i}") for i in range(6)])
        while len(fake.calls) < 2:  # offsets 0 and 1 are on the wire; 2..5 wait for a slot
            await asyncio.sleep(0.001)
        deliverer.abandon(futures)
        results = await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, futures)), 5)
        return fake, results, deliverer

    fake, results, deliverer = asyncio.run(scenario())
    assert results == [None, None] + [ABANDONED] * 4, "a 200 that arrives is news: delivered"
    assert len(fake.calls) == 2, "nothing abandoned was posted"
    assert deliverer.unfinished == 0


def test_a_job_abandoned_while_waiting_for_its_contact_frees_the_line_for_the_next():
    async def scenario():
        fake = FakeFreshdesk(latency=0.02)
        deliverer = Deliverer(fake, settings())
        first, waiting, other_partition = start(deliverer, [job(0, "x"), job(1, "x"),
                                                            job(2, "x", partition=1)])
        deliverer.abandon([waiting])
        return await asyncio.wait_for(asyncio.gather(
            *map(asyncio.wrap_future, (first, waiting, other_partition))), 5), fake

    results, fake = asyncio.run(scenario())
    assert results == [None, ABANDONED, None]
    assert [body for _, body in fake.calls] == [b"x|0", b"x|2"]
