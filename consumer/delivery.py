"""The delivery station: posts activities to one Freshdesk account and decides what each answer means.

It runs on its own asyncio loop (see :class:`consumer.bridge.AsyncBridge`) so that polling
Kafka never waits for HTTP. Rules it keeps:

- activities of one contact go out one after another, in the order they were taken
  (Freshdesk creates a missing contact on first sight; two parallel first posts could create it
  twice); different contacts go out in parallel, at most ``max_in_flight`` at a time;
- a 429 closes the account budget for everyone until its ``Retry-After`` has passed;
- 5xx, timeouts and dropped connections back off with jitter and retry, up to ``max_attempts``;
- 401/403/404 close the halt gate: nothing is posted until one probe (the request that failed,
  retried every ``halt_probe_interval_s``) succeeds. Nothing is settled meanwhile, so nothing is
  committed, and backpressure pauses the partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from consumer.budget import AccountBudget
from consumer.config import FreshdeskSettings, RetrySettings
from consumer.dead_letter import Failure
from consumer.freshdesk import Answer, FreshdeskClient, Reply
from consumer.job import Delivery
from consumer.ledger import Claim, Ledger, LedgerUnavailable, MemoryLedger
from consumer.message import Message
from consumer.metrics import METRICS, Metrics

__all__ = ["Deliverer", "Delivery", "HaltGate", "Job", "backoff", "set_testing"]

_SKIPPED = object()  # the ledger knew the key as delivered: not posted again

log = logging.getLogger("consumer.delivery")


@dataclass(slots=True, eq=False)  # identity: jobs live in sets
class Job:
    """The activities one Kafka message became; settled as a whole."""

    message: Message
    deliveries: list[Delivery]
    transform: str = ""  # the subscription's transform name (a metric label)
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    posting: bool = False  # a request is on the wire: let it finish, its answer is news


Settle = Callable[[Job, Failure | None], None]  # None = every activity delivered


_testing = False


def set_testing(enabled: bool = True) -> None:
    """Tests: backoffs between retries become 0 s (like stamina's testing mode); 429 and halt
    waits are unchanged, because they are what the tests observe."""
    global _testing
    _testing = enabled


def backoff(attempt: int, retry: RetrySettings, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with (full) jitter, capped: attempt 1 waits about ``initial_backoff_s``."""
    if _testing:
        return 0.0
    ceiling = min(retry.max_backoff_s, retry.initial_backoff_s * 2 ** (attempt - 1))
    return ceiling * (1 - retry.jitter * rand())


class HaltGate:
    """Closed while Freshdesk refuses our credentials or address; one probe at a time reopens it."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    async def wait(self) -> None:
        await self._open.wait()

    def close(self, reason: str) -> bool:
        """Close it; True if this call closed it (the caller becomes the probe)."""
        if not self._open.is_set():
            return False
        self._open.clear()
        self.reason = reason
        return True

    def open(self) -> None:
        self._open.set()
        self.reason = None


class _ContactLocks:
    """One FIFO lock per contact with work in flight; forgotten when idle so memory stays bounded."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    async def acquire(self, contact: str) -> None:
        lock, users = self._locks.setdefault(contact, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            await lock.acquire()
        except BaseException:
            self._drop(contact, users)
            raise

    def release(self, contact: str) -> None:
        lock, users = self._locks[contact]
        lock.release()
        self._drop(contact, users)

    def _drop(self, contact: str, users: list[int]) -> None:
        users[0] -= 1
        if users[0] == 0:
            del self._locks[contact]


class Deliverer:
    def __init__(self, client: FreshdeskClient, settings: FreshdeskSettings, settle: Settle,
                 budget: AccountBudget | None = None, ledger: Ledger | None = None,
                 metrics: Metrics = METRICS):
        self.client = client
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()
        self._ledger_failures = 0
        self.metrics = metrics
        self.settings = settings
        self.budget = budget or AccountBudget()
        self.gate = HaltGate()
        self._settle = settle
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._contacts = _ContactLocks()
        self.jobs: dict[tuple[str, int], set[Job]] = {}  # in flight, by partition
        # Revoked/stopping partitions → the highest offset that may still post (the "cut").
        self._closing: dict[tuple[str, int], int] = {}
        self._settled_high: dict[tuple[str, int], int] = {}  # highest settled offset per partition

    # --- called on the loop thread ------------------------------------------------------------

    def start(self, job: Job) -> None:
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        self.jobs.setdefault(job.message.tp, set()).add(job)

    def in_flight(self, partitions: set[tuple[str, int]] | None = None) -> int:
        """Unfinished jobs (of ``partitions``); only len() is read, so other threads may call it."""
        tps = list(self.jobs) if partitions is None else partitions
        return sum(len(self.jobs.get(tp, ())) for tp in tps)

    def quiesce(self, partitions: set[tuple[str, int]] | None = None) -> None:
        """Revoke or shutdown: finish what the watermark needs, abandon the rest (None: all partitions).

        The cut of a partition is the highest offset already settled or on the wire. Jobs below it
        must finish: otherwise the watermark could not reach what was delivered, and the next
        owner would post those activities again. Jobs above it that are only waiting (for their
        contact, a slot, the budget, a backoff, the halt gate) are cancelled at once: nothing of
        theirs reached Freshdesk, and their messages stay uncommitted for a redelivery.
        """
        tps = set(self.jobs) if partitions is None else partitions
        for tp in tps:
            jobs = self.jobs.get(tp, set())
            cut = max([j.message.offset for j in jobs if j.posting]
                      + [self._settled_high.get(tp, -1)])
            self._closing[tp] = cut
            for job in [j for j in jobs if not j.posting and j.message.offset > cut]:
                jobs.discard(job)
                if job.task is not None:
                    job.task.cancel()

    def reopen(self, partitions: set[tuple[str, int]]) -> None:
        """The partitions are (re)assigned: their jobs may post again."""
        for tp in partitions:
            self._closing.pop(tp, None)
            self._settled_high.pop(tp, None)

    def cancel(self, partitions: set[tuple[str, int]]) -> int:
        """Abandon every unfinished job of these partitions (their new owner redelivers them)."""
        cancelled = 0
        for tp in partitions:
            for job in self.jobs.pop(tp, set()):
                if job.task is not None and job.task.cancel():
                    cancelled += 1
        return cancelled

    async def _run(self, job: Job) -> None:
        failure: Failure | None = None
        try:
            for delivery in job.deliveries:
                failure = await self._deliver(delivery, job)
                if failure is not None:
                    break
        except asyncio.CancelledError:
            return  # abandoned on revoke or shutdown: not settled, so not committed
        finally:
            jobs = self.jobs.get(job.message.tp)
            if jobs is not None:
                jobs.discard(job)
        tp, offset = job.message.tp, job.message.offset
        self._settled_high[tp] = max(offset, self._settled_high.get(tp, -1))
        self._settle(job, failure)

    async def _deliver(self, delivery: Delivery, job: Job) -> Failure | None:
        """One activity: claim its key, post it, record it. The ledger makes redeliveries harmless.

        The only window left for a double post is a crash between Freshdesk's 200 and the one
        ledger write that follows it (``ledger.delivered``).
        """
        await self._contacts.acquire(delivery.contact)
        try:
            outcome = await self._post_until_settled(delivery, job)
        finally:
            self._contacts.release(delivery.contact)
        topic = job.message.topic
        if outcome is _SKIPPED:
            self.metrics.duplicates.labels(topic, job.transform).inc()
            return None
        if outcome is None:
            self.metrics.delivered.labels(topic, job.transform).inc()
            if job.message.timestamp_ms is not None:
                self.metrics.end_to_end_seconds.labels(topic).observe(
                    max(0.0, time.time() - job.message.timestamp_ms / 1000))
        return outcome  # type: ignore[return-value]  # _SKIPPED handled above

    async def _claim(self, key: str) -> Claim | None:
        """Claim the key once; None while the ledger cannot answer (the caller waits and retries)."""
        try:
            claim = await self.ledger.claim(key)
        except LedgerUnavailable as e:
            self._ledger_failures += 1
            if self._ledger_failures == 1 or self._ledger_failures % 50 == 0:
                log.warning("idempotency ledger unavailable (%s); delivery waits for it", e)
            return None
        if self._ledger_failures:
            self._ledger_failures = 0
            log.warning("idempotency ledger answers again; delivery goes on")
        return claim

    async def _record_delivered(self, key: str) -> None:
        """The one write after Freshdesk's 200. It must land: retry while the ledger is away."""
        attempt = 0
        while True:
            try:
                await self.ledger.delivered(key)
                return
            except LedgerUnavailable as e:
                attempt += 1
                if attempt == 1:
                    log.warning("cannot record a delivery in the ledger (%s); retrying", e)
                await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt))

    async def _release(self, key: str) -> None:
        with contextlib.suppress(LedgerUnavailable):  # else the claim's lease runs out on its own
            await self.ledger.release(key)

    async def _post_until_settled(self, delivery: Delivery, job: Job) -> Failure | object | None:
        """Post until the answer settles it: None (delivered), a Failure, or _SKIPPED."""
        msg, retry = job.message, self.settings.retry
        attempts = 0
        first_failure: float | None = None
        probing = claimed = False
        try:
            while True:
                if not probing:
                    await self.gate.wait()
                await self.budget.wait()
                reply: Reply | None = None
                async with self._slots:
                    if (not probing and not self.gate.is_open) or self.budget.throttled_for > 0:
                        continue  # halted or throttled while we waited for the slot: wait again
                    if msg.offset > self._closing.get(msg.tp, msg.offset):
                        raise asyncio.CancelledError  # past the cut: leave it to a redelivery
                    # Claimed right before each attempt: a lease left by a crash then covers only
                    # a request that may really have been sent, a long retry keeps its lease
                    # fresh, and a key another replica delivered meanwhile is seen as DELIVERED.
                    claim = await self._claim(delivery.key)  # None: the ledger is away
                    if claim is not None:
                        claimed = claim is Claim.CLAIMED  # ours to release if we give up
                    if claim is Claim.DELIVERED:
                        return _SKIPPED
                    if claim is Claim.CLAIMED:
                        job.posting = True  # on the wire until its outcome is recorded
                        self.metrics.in_flight.inc()
                        started = time.perf_counter()
                        try:
                            reply = await self.client.post(delivery.body)
                            if reply.answer is Answer.DELIVERED:
                                # The one write of the double-post window, first thing after the
                                # 200, and shielded: a revoke or shutdown must not cut it off.
                                claimed = False
                                await asyncio.shield(self._record_delivered(delivery.key))
                        finally:
                            job.posting = False
                            self.metrics.in_flight.dec()
                if reply is None:  # BUSY (another replica posts it now) or the ledger is away
                    await asyncio.sleep(0.5)
                    continue
                self._observe(reply, time.perf_counter() - started)

                if reply.answer is Answer.HALT:
                    if probing or self.gate.close(_halt_reason(reply)):
                        if not probing:
                            self.metrics.halted.labels(_halt_class(reply)).set(1)
                            log.error("delivery halted: %s; every %.0fs one request probes until "
                                      "it succeeds; nothing is committed meanwhile",
                                      self.gate.reason, self.settings.halt_probe_interval_s)
                        probing = True
                        self.metrics.retries.labels("halted").inc()
                        await asyncio.sleep(self.settings.halt_probe_interval_s)
                    continue
                if probing:
                    probing = False
                    log.warning("delivery resumed: Freshdesk accepts our requests again "
                                "(status=%s)", reply.status)
                    self._reopen_gate()

                if reply.answer is Answer.DELIVERED:
                    return None
                now = time.time()
                first_failure = first_failure or now
                if reply.answer is Answer.THROTTLED:
                    assert reply.retry_after is not None
                    self.budget.throttle(reply.retry_after)
                    self.metrics.retries.labels("throttled").inc()
                    self.metrics.retry_after_seconds.observe(reply.retry_after)
                    continue
                attempts += 1
                if reply.answer is Answer.REJECTED:
                    return Failure("rejected", _rejection(reply),
                                   reply.status, reply.detail, attempts, first_failure, now)
                # TRANSIENT
                too_old = retry.max_age_s is not None and now - first_failure >= retry.max_age_s
                if attempts >= retry.max_attempts or too_old:
                    return Failure("retries_exhausted",
                                   f"gave up after {attempts} attempts in {now - first_failure:.0f}s: "
                                   f"{_describe(reply)}",
                                   reply.status, reply.detail, attempts, first_failure, now)
                self.metrics.retries.labels(_retry_cause(reply)).inc()
                log.debug("retrying %s after %s", msg.where(), _describe(reply))
                await asyncio.sleep(backoff(attempts, retry))
        finally:
            if probing:  # cancelled while probing: let a waiting request take over the probe
                self._reopen_gate()
            if claimed:  # dead-lettered or abandoned: give the key back (else its lease runs out)
                asyncio.get_running_loop().create_task(self._release(delivery.key))

    def _reopen_gate(self) -> None:
        self.gate.open()
        for reason in ("unauthorized", "forbidden", "not_found"):
            self.metrics.halted.labels(reason).set(0)

    def _observe(self, reply: Reply, seconds: float) -> None:
        self.budget.observe(reply.budget_total, reply.budget_remaining)
        if reply.budget_total is not None:
            self.metrics.budget_total.set(reply.budget_total)
        if reply.budget_remaining is not None:
            self.metrics.budget_remaining.set(reply.budget_remaining)
        status_class = "none" if reply.status is None else (
            "429" if reply.status == 429 else f"{reply.status // 100}xx")
        self.metrics.request_seconds.labels(reply.answer.value, status_class).observe(seconds)


def _describe(reply: Reply) -> str:
    return f"status {reply.status}" if reply.status is not None else reply.detail


def _rejection(reply: Reply) -> str:
    """'Freshdesk answered 400: contact.email invalid_value (It should be …)' from its error body."""
    text = f"Freshdesk answered {reply.status}"
    try:
        errors = orjson.loads(reply.detail).get("errors") or []
        details = [f"{e.get('nested_field') or e.get('field')} {e.get('code')} ({e.get('message')})"
                   for e in errors if isinstance(e, dict)]
    except (orjson.JSONDecodeError, AttributeError):
        details = []
    return f"{text}: {'; '.join(details)}" if details else text


def _retry_cause(reply: Reply) -> str:
    if reply.status is not None:
        return "server_error"
    return "timeout" if reply.detail.startswith("timed out") else "connection"


def _halt_class(reply: Reply) -> str:
    return {401: "unauthorized", 403: "forbidden"}.get(reply.status or 0, "not_found")


def _halt_reason(reply: Reply) -> str:
    what = {401: "the API key is wrong (401 invalid_credentials)",
            403: "the API key's agent may not post activities, or the feature is off (403)",
            404: "wrong Freshdesk domain or path (404)"}.get(reply.status or 0, _describe(reply))
    return f"{what}; fix freshdesk.api_key / freshdesk.domain"
