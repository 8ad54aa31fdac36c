"""The delivery station: posts each job's activities to one Freshdesk account and says how it ended.

It runs on its own asyncio loop (consumer.delivery.bridge) so that polling Kafka never waits for HTTP. The
poll thread hands it jobs and holds a ``concurrent.futures.Future`` per job (consumer.delivery.station);
each future resolves to a :data:`~consumer.job.Result`. This station knows contacts, request
slots, the account budget, the halt gate and the ledger, never partitions, offsets or commits.
Rules it keeps:

- one message at a time per contact, in the order jobs were started (consumer.delivery.contact_turns);
  different contacts in parallel, at most ``max_in_flight`` requests at a time;
- per activity: claim its key right before each attempt, post, and after a 200 the one ledger
  write; a crash between the 200 and that write is the only way to post twice;
- a claim is given back only when we know nothing reached Freshdesk (an HTTP answer other than
  200, a connection that was never made, a job stopped before sending). An unknown outcome (a
  timeout, a connection dropped mid-request, a shutdown with the request on the wire) keeps the
  claim until its lease runs out, so no other owner can post it meanwhile; these are counted;
- a 429 closes the account budget for everyone until its ``Retry-After`` has passed;
- 5xx, timeouts and dropped connections back off with jitter and retry, up to ``max_attempts``;
- 401/403/404 close the halt gate (consumer.delivery.halt): one probe at a time until it succeeds;
- a job's future is marked *running* (``Future.running()``) before its first request leaves, so
  the poll thread can tell which messages may already be on a timeline (its revoke "cut");
- :meth:`Deliverer.abandon`: a job not on the wire stops at once; a job on the wire finishes its
  request (its answer is news: a 200 is recorded) and then stops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

from consumer.config import FreshdeskSettings, RetrySettings
from consumer.delivery.budget import AccountBudget
from consumer.delivery.contact_turns import ContactTurns
from consumer.delivery.freshdesk import Answer, FreshdeskClient, Reply
from consumer.delivery.halt import HaltGate, halt_class, halt_reason
from consumer.job import ABANDONED, Abandoned, Job, Result
from consumer.ledger import Claim, Ledger, LedgerUnavailable, MemoryLedger
from consumer.metrics import METRICS, Children, Metrics
from consumer.outcomes import Delivery, Failure

__all__ = ["Deliverer", "Delivery", "HaltGate", "Job", "backoff", "set_testing"]

log = logging.getLogger("consumer.delivery")

Done = concurrent.futures.Future  # the poll thread's handle on a job


class _Skipped:
    """The ledger knew the key as delivered: not posted again."""


_SKIPPED = _Skipped()
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


@dataclass(slots=True, eq=False)  # identity: runs are dict keys and queue entries
class _Run:
    job: Job
    done: Done
    contacts: tuple[str, ...]  # job.contacts, computed once (start and finish both need them)
    task: asyncio.Task[None] | None = None  # None while it waits for its contacts' turn
    posting: bool = False  # a request is on the wire (or its 200 is being recorded)
    abandoned: bool = False


class Deliverer:
    """Lives on the delivery loop's thread; every method is called there."""

    def __init__(self, client: FreshdeskClient, settings: FreshdeskSettings,
                 budget: AccountBudget | None = None, ledger: Ledger | None = None,
                 metrics: Metrics = METRICS, on_halt: Callable[[str | None], None] | None = None):
        self.client = client
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()
        self.metrics = metrics
        self.settings = settings
        self.budget = budget or AccountBudget()
        self.gate = HaltGate(on_halt)
        self._ledger_failures = 0
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._turns = ContactTurns()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runs: dict[Done, _Run] = {}  # unfinished jobs, by the future the poll thread holds
        self._delivered = Children(metrics.delivered)  # per activity: no labels() lookups
        self._duplicates = Children(metrics.duplicates)
        self._end_to_end = Children(metrics.end_to_end_seconds)
        self._request_seconds = Children(metrics.request_seconds)

    # --- what the poll thread asks for (through consumer.delivery.station) --------------------------------

    def start(self, jobs: Iterable[tuple[Job, Done]]) -> None:
        """Take jobs in order; each future resolves when its job ends."""
        for job, done in jobs:
            run = self._runs[done] = _Run(job, done, job.contacts)
            if self._turns.join(run, run.contacts):
                self._launch(run)

    def abandon(self, futures: Iterable[Done]) -> None:
        """Stop these jobs: at once when nothing is on the wire, else after the request's answer."""
        for done in futures:
            run = self._runs.get(done)
            if run is None or run.abandoned:
                continue
            run.abandoned = True
            if run.task is None:  # still waiting for its turn on a contact
                self._finish(run, ABANDONED)
            elif not run.posting:
                run.task.cancel()

    @property
    def unfinished(self) -> int:
        return len(self._runs)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Shutdown, after the drain: stop what is left (claims of requests on the wire are kept),
        then close the HTTP client and the ledger."""
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        self.abandon(list(self._runs))
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.client.aclose()
        await self.budget.aclose()
        await self.ledger.aclose()

    # --- one job ---------------------------------------------------------------------------------

    def _launch(self, run: _Run) -> None:
        if self._loop is None:  # the delivery thread's; asked once (each call costs a getpid())
            self._loop = asyncio.get_running_loop()
        run.task = self._loop.create_task(self._run(run))

    async def _run(self, run: _Run) -> None:
        result: Result = ABANDONED
        try:
            result = await self._deliver_job(run)
        except asyncio.CancelledError:
            pass  # abandoned (never on the wire) or shutdown: ABANDONED, claims settled below
        except Exception:  # a bug here must not leave the job's future unresolved forever
            log.exception("delivery of %s failed; it stays unsettled", run.job.message.where())
        finally:
            self._finish(run, result)

    def _finish(self, run: _Run, result: Result) -> None:
        if self._runs.pop(run.done, None) is None:
            return
        for ready in self._turns.leave(run, run.contacts):
            self._launch(ready)  # type: ignore[arg-type]  # ContactTurns holds our runs
        if not run.done.done():
            run.done.set_result(result)

    async def _deliver_job(self, run: _Run) -> Result:
        """Every activity of the message, in order; the first failure ends the job."""
        for delivery in run.job.deliveries:
            if run.abandoned:
                return ABANDONED
            outcome = await self._post_until_settled(delivery, run)
            if outcome is _SKIPPED:
                self._duplicates(run.job.message.topic, run.job.transform).inc()
            elif outcome is None:
                self._count_delivered(run.job)
            else:
                return outcome  # type: ignore[return-value]  # a Failure or ABANDONED
        return None

    def _count_delivered(self, job: Job) -> None:
        self._delivered(job.message.topic, job.transform).inc()
        if job.message.timestamp_ms is not None:
            self._end_to_end(job.message.topic).observe(
                max(0.0, time.time() - job.message.timestamp_ms / 1000))

    # --- one activity ----------------------------------------------------------------------------

    async def _post_until_settled(self, delivery: Delivery, run: _Run
                                  ) -> Failure | Abandoned | _Skipped | None:
        """Post until the answer settles it: None (delivered), a Failure, _SKIPPED or ABANDONED."""
        retry = self.settings.retry
        attempts = 0
        first_failure: float | None = None
        probing = False
        held = False  # we hold the key's claim
        unknown = False  # an attempt may have reached Freshdesk without our seeing its answer
        try:
            while True:
                if run.abandoned:
                    return ABANDONED
                if not probing:
                    await self.gate.wait()
                await self.budget.wait()
                reply: Reply | None = None
                try:
                    async with self._slots:
                        if run.abandoned:
                            return ABANDONED
                        if (not probing and not self.gate.is_open) or self.budget.throttled_for > 0:
                            continue  # halted or throttled while we waited for the slot: again
                        # Claimed right before each attempt: a lease left by a crash then covers
                        # only a request that may really have been sent, a long retry keeps its
                        # lease fresh, and a key another replica delivered meanwhile is seen as
                        # DELIVERED.
                        claim = await self._claim(delivery.key)  # None: the ledger is away
                        if claim is Claim.DELIVERED:
                            held = False
                            return _SKIPPED
                        if claim is Claim.CLAIMED:
                            held, known_before = True, not unknown
                            unknown = True  # until its answer is read (a cancel lands here too)
                            reply, seconds = await self._post(delivery, run)
                            if reply.answer is Answer.DELIVERED:
                                held = False
                            elif reply.status is not None or not reply.sent:
                                unknown = not known_before  # an answer: this attempt stored nothing
                finally:
                    if reply is None:
                        # The call wait() counted was not made (abandoned, halted, throttled,
                        # known delivered, BUSY, ledger away, or stopped on its way): give it
                        # back, so the budget neither counts it in flight nor waits for its answer.
                        self.budget.unused()
                if reply is None:  # BUSY (another owner posts it now) or the ledger is away
                    await asyncio.sleep(0.5)
                    continue
                self._observe(reply, seconds)

                if reply.answer is Answer.HALT:
                    if probing or self.gate.close(halt_reason(reply)):
                        if not probing:
                            self.metrics.halted.labels(halt_class(reply)).set(1)
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
                if run.abandoned:
                    return ABANDONED  # nobody waits for it: no retry
                self.metrics.retries.labels(_retry_cause(reply)).inc()
                log.debug("retrying %s after %s", run.job.message.where(), _describe(reply))
                await asyncio.sleep(backoff(attempts, retry))
        finally:
            if probing:  # stopped while probing: let a waiting request take over the probe
                self._reopen_gate()
            if held:
                self._give_back(delivery.key, unknown)

    async def _post(self, delivery: Delivery, run: _Run) -> tuple[Reply, float]:
        """One attempt on the wire; after a 200 the one ledger write, before anything else."""
        run.posting = True
        if not run.done.running():  # tells the poll thread this message may be on a timeline
            run.done.set_running_or_notify_cancel()
        self.metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            reply = await self.client.post(delivery.body)
            if reply.answer is Answer.DELIVERED:
                # The one write of the double-post window, first thing after the 200, shielded:
                # a shutdown that cancels this job must not cut it off. A ledger whose calls
                # never suspend (memory) cannot be cut off: no task for the shield then.
                if self.ledger.immediate:
                    await self._record_delivered(delivery.key)
                else:
                    await asyncio.shield(self._record_delivered(delivery.key))
            return reply, time.perf_counter() - started
        finally:
            run.posting = False
            self.metrics.in_flight.dec()

    def _give_back(self, key: str, unknown: bool) -> None:
        """Dead-lettered or abandoned while holding the claim: release it only when we know
        nothing reached Freshdesk; otherwise the lease runs out on its own."""
        if unknown:
            self.metrics.unknown_outcomes.inc()
            log.info("outcome unknown for activity %s (a request may have reached Freshdesk); "
                     "its claim is kept until the lease runs out", key)
            return
        asyncio.get_running_loop().create_task(self._release(key))

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
        with contextlib.suppress(LedgerUnavailable):  # else the lease runs out on its own
            await self.ledger.release(key)

    def _reopen_gate(self) -> None:
        self.gate.open()
        for reason in ("unauthorized", "forbidden", "not_found"):
            self.metrics.halted.labels(reason).set(0)

    def _observe(self, reply: Reply, seconds: float) -> None:
        self.budget.observe(reply.budget_total, reply.budget_remaining, reply.budget_used)
        status_class = "none" if reply.status is None else (
            "429" if reply.status == 429 else f"{reply.status // 100}xx")
        self._request_seconds(reply.answer.value, status_class).observe(seconds)


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
