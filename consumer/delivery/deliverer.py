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
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from consumer.config import FreshdeskSettings
from consumer.delivery.account import HALTED, UNAVAILABLE, AccountGate, AccountHealth
from consumer.delivery.answers import Answer, Reply, halt_class, halt_reason
from consumer.delivery.attempt import Decision, KeyClaim, RetryPolicy, Tries, Verdict
from consumer.delivery.budget import AccountBudget
from consumer.delivery.contact_turns import ContactTurns
from consumer.delivery.freshdesk import FreshdeskClient
from consumer.job import ABANDONED, Abandoned, Job, Result
from consumer.ledger import Claim, Ledger, LedgerUnavailable, MemoryLedger
from consumer.metrics import METRICS, Children, Metrics
from consumer.outcomes import Delivery, Failure

__all__ = ["Deliverer"]

log = logging.getLogger("consumer.delivery")

Done = concurrent.futures.Future  # the poll thread's handle on a job


class _Skipped:
    """The ledger knew the key as delivered: not posted again."""


_SKIPPED = _Skipped()
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
                 metrics: Metrics = METRICS,
                 on_account: Callable[[str, str | None], None] | None = None,
                 on_ledger: Callable[[str | None], None] = lambda why: None):
        self.client = client
        self.ledger: Ledger = ledger if ledger is not None else MemoryLedger()
        self.metrics = metrics
        self.settings = settings
        self.budget = budget or AccountBudget()
        self._on_account = on_account
        self._halt_label = self._unreachable_cause = ""  # of the latest close: its metric label
        self.gate = AccountGate(self._account_changed)
        self.health = AccountHealth()
        self._ledger_failures = 0
        self._ledger_away_since: float | None = None  # the ledger's first failure in a row
        self._on_ledger, self._ledger_shown = on_ledger, False
        self.policy = RetryPolicy(settings.retry, settings.give_up_after_s)
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
        tries = Tries()
        claim = KeyClaim(self.ledger, delivery.key, self.metrics, self._ledger_state)
        probing = False
        try:
            while True:
                if run.abandoned:
                    return ABANDONED
                reply = await self._attempt(delivery, run, claim, probing, tries)
                if reply is None:
                    continue  # not sent: halted, throttled, or the key is busy elsewhere
                if not isinstance(reply, Reply):
                    return reply  # _SKIPPED, ABANDONED, or the Failure of a wait given up
                decision = self.policy.decide(reply, tries, time.time(), self.health.failing)
                if decision.verdict in (Verdict.HALT, Verdict.UNAVAILABLE):
                    probing = await self._closed(reply, decision, probing)
                    continue
                if probing:  # it got through, or (a blip now) other calls got through
                    probing = False
                    log.warning("delivery resumed: Freshdesk accepts our requests again (%s)",
                                f"status={reply.status}" if decision.verdict is not Verdict.RETRY
                                else "other calls succeed")
                    self.gate.open()
                if decision.verdict is Verdict.DELIVERED:
                    return None
                if decision.verdict is Verdict.DEAD_LETTER:
                    return decision.failure
                if decision.verdict is Verdict.THROTTLED:
                    self.budget.throttle(decision.wait_s)
                    self.metrics.retries.labels("throttled").inc()
                    self.metrics.retry_after_seconds.observe(decision.wait_s)
                    continue
                if run.abandoned:
                    return ABANDONED  # nobody waits for it: no retry
                self.metrics.retries.labels(decision.cause).inc()
                log.debug("retrying %s after %s", run.job.message.where(), reply.status or reply.detail)
                await asyncio.sleep(decision.wait_s)
        finally:
            if probing:  # stopped while probing: let a waiting request take over the probe
                self.gate.open()
            claim.end()

    async def _attempt(self, delivery: Delivery, run: _Run, claim: KeyClaim, probing: bool,
                       tries: Tries) -> Reply | _Skipped | Abandoned | Failure | None:
        """One attempt when its turn comes (the account gate, budget, a request slot, the key's
        claim): the reply, _SKIPPED (known delivered), ABANDONED, a Failure (it waited for an
        unreachable Freshdesk past give_up_after_s), or None when nothing was sent."""
        if not probing and not self.gate.is_open:
            gave_up = await self._wait_at_gate(tries)
            if gave_up is not None:
                return gave_up
        await self.budget.wait()
        reply: Reply | None = None
        try:
            async with self._slots:
                if run.abandoned:
                    return ABANDONED
                if (not probing and not self.gate.is_open) or self.budget.throttled_for > 0:
                    return None  # halted, unreachable or throttled meanwhile: again
                found = await claim.take()  # None: the ledger is away
                if found is Claim.DELIVERED:
                    return _SKIPPED
                if found is Claim.CLAIMED:
                    claim.sending()
                    reply, seconds = await self._post(delivery, run)
                    claim.answered(reply)
        finally:
            if reply is None:
                # The call wait() counted was not made (abandoned, halted, throttled, known
                # delivered, BUSY, ledger away, or stopped on its way): give it back, so the
                # budget neither counts it in flight nor waits for its answer.
                self.budget.unused()
        if reply is None:  # BUSY (another owner posts it now) or the ledger is away
            await asyncio.sleep(0.5)
            return None
        self._observe(reply, seconds)
        return reply

    async def _wait_at_gate(self, tries: Tries) -> Failure | None:
        """Wait while the account is halted or unreachable; with freshdesk.give_up_after_s, a
        wait for an unreachable Freshdesk ends in a Failure once it lasted that long."""
        give_up = self.policy.give_up_after_s
        while not self.gate.is_open:
            if give_up is None or self.gate.kind != UNAVAILABLE:
                await self.gate.wait()
                continue
            now = time.time()
            tries.unavailable_since = tries.unavailable_since or now
            if not await self.gate.wait(tries.unavailable_since + give_up - now):
                return self.policy.gave_up(tries, time.time(), self.gate.reason or "").failure
        return None

    async def _closed(self, reply: Reply, decision: Decision, probing: bool) -> bool:
        """Halted or unreachable: close the gate (the first to see it becomes the probe) or keep
        probing, and wait to probe again. Returns whether this request is the probe."""
        halted = decision.verdict is Verdict.HALT
        kind, reason = (HALTED, halt_reason(reply)) if halted else (UNAVAILABLE, _unreachable(reply))
        self._halt_label, self._unreachable_cause = halt_class(reply.status), decision.cause
        if self.gate.close(kind, reason) or probing:
            if not probing:
                log.error("delivery %s: %s; one request probes (%s) until it succeeds; nothing "
                          "is dead-lettered or committed meanwhile", kind, reason,
                          f"every {self.settings.halt_probe_interval_s:g}s" if halted
                          else "backing off up to retry.max_backoff_s")
            self.metrics.retries.labels("halted" if halted else "unavailable").inc()
            await asyncio.sleep(self.settings.halt_probe_interval_s if halted else decision.wait_s)
            return True
        return False

    def _account_changed(self, kind: str, reason: str | None) -> None:
        """The gate closed, changed or opened: metrics, then the rest of the process."""
        if kind == HALTED:
            for label in ("unauthorized", "forbidden", "not_found", "redirect", "proxy_auth"):
                self.metrics.halted.labels(label).set(0)
            if reason is not None:
                self.metrics.halted.labels(self._halt_label).set(1)
        else:
            self.metrics.unreachable_since.set(self.gate.since or 0 if reason is not None else 0)
            for cause in _UNREACHABLE_CAUSES:
                self.metrics.unreachable.labels(cause).set(0)
            if reason is not None:
                self.metrics.unreachable.labels(self._unreachable_cause).set(1)
        if self._on_account is not None:
            self._on_account(kind, reason)

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

    def _ledger_state(self, error: LedgerUnavailable | None) -> None:
        """Each failed ledger call (error) and each answer (None): logged when it changes, and
        every 50th failure, not once per activity."""
        if error is not None:
            self._ledger_failures += 1
            now = time.monotonic()
            self._ledger_away_since = self._ledger_away_since or now
            if self._ledger_failures == 1 or self._ledger_failures % 50 == 0:
                log.warning("idempotency ledger unavailable (%s); delivery waits for it", error)
            if not self._ledger_shown and now - self._ledger_away_since >= _LEDGER_GRACE_S:
                self._ledger_shown = True  # nothing is posted meanwhile: not ready
                self._on_ledger(f"the idempotency ledger has not answered for "
                                f"{now - self._ledger_away_since:.0f}s: {error}; delivery waits")
        elif self._ledger_failures:
            self._ledger_failures, self._ledger_away_since = 0, None
            log.warning("idempotency ledger answers again; delivery goes on")
            if self._ledger_shown:
                self._ledger_shown = False
                self._on_ledger(None)

    def _observe(self, reply: Reply, seconds: float) -> None:
        self.health.record(reply)
        self.budget.observe(reply.budget_total, reply.budget_remaining, reply.budget_used)
        status_class = "none" if reply.status is None else (
            "429" if reply.status == 429 else f"{reply.status // 100}xx")
        self._request_seconds(reply.answer.value, status_class).observe(seconds)


_LEDGER_GRACE_S = 15.0  # the ledger away this long: readiness says so

_UNREACHABLE_CAUSES = ("connection", "dns", "tls", "timeout", "proxy", "server_error", "too_large",
                       "bad_answer")


def _unreachable(reply: Reply) -> str:
    what = f"status {reply.status}" if reply.status is not None else reply.detail
    return f"Freshdesk unreachable: {what}"
