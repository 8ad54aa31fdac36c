"""One activity's attempts: what to do after each answer, and its claim on its idempotency key.

- :class:`RetryPolicy` is pure: given an answer and the activity's :class:`Tries` so far, it
  says what comes next (:class:`Decision`): delivered, wait and retry, throttled, dead-letter,
  or halt. It is the one place the retry rules of shared/freshdesk-contract.md are applied.
- :class:`KeyClaim` holds the activity's claim in the ledger across its attempts, knows whether
  an attempt may have reached Freshdesk without our seeing its answer, and gives the claim back
  at the end only when nothing can be on the timeline (otherwise its lease runs out).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from consumer.config import RetrySettings
from consumer.delivery.answers import Answer, Reply
from consumer.ledger import Claim, Ledger, LedgerUnavailable
from consumer.metrics import Metrics
from consumer.outcomes import Failure

__all__ = ["Decision", "KeyClaim", "RetryPolicy", "Tries", "Verdict", "backoff"]

log = logging.getLogger("consumer.delivery")

def backoff(attempt: int, retry: RetrySettings, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with (full) jitter, capped: attempt 1 waits about ``initial_backoff_s``."""
    ceiling = min(retry.max_backoff_s, retry.initial_backoff_s * 2 ** (attempt - 1))
    return ceiling * (1 - retry.jitter * rand())


@dataclass(slots=True)
class Tries:
    """One activity's failed attempts so far (429s, halts and outages never count)."""

    attempts: int = 0
    first_failure: float | None = None  # epoch seconds
    unavailable_since: float | None = None  # when it first met an unreachable Freshdesk
    probes: int = 0  # attempts as the probe of an unreachable account (its backoff)


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # wait ``wait_s``, then again
    THROTTLED = "throttled"  # the account's budget is spent for ``wait_s`` (Retry-After)
    DEAD_LETTER = "dead_letter"  # ``failure``
    HALT = "halt"  # our configuration is wrong: the account gate's business
    UNAVAILABLE = "unavailable"  # Freshdesk cannot be reached: probe again after ``wait_s``


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    wait_s: float = 0.0
    failure: Failure | None = None
    cause: str = ""  # why a retry (a metric label): server_error, timeout, connection


class RetryPolicy:
    def __init__(self, retry: RetrySettings, give_up_after_s: float | None = None,
                 rand: Callable[[], float] = random.random):
        self.retry = retry
        self.give_up_after_s = give_up_after_s
        self._rand = rand

    def decide(self, reply: Reply, tries: Tries, now: float, account_failing: bool = False
               ) -> Decision:
        """What comes after ``reply``; counts the attempt in ``tries`` when it failed because
        of the message. ``account_failing``: every recent call of the account failed
        (consumer.delivery.account.AccountHealth), so a failure is the account's: UNAVAILABLE
        (close the gate, probe). Without it a TRANSIENT failure counts against the message and
        an UNAVAILABLE one is retried without counting."""
        answer = reply.answer
        if answer is Answer.DELIVERED:
            return Decision(Verdict.DELIVERED)
        if answer is Answer.HALT:
            return Decision(Verdict.HALT)
        if answer is Answer.UNAVAILABLE or (answer is Answer.TRANSIENT and account_failing):
            decision = self._unavailable(reply, tries, now)
            if account_failing or decision.verdict is not Verdict.UNAVAILABLE:
                return decision
            # A 503 or a refused connection while the account's other calls succeed: a blip
            # (one backend, one connection). This request waits and tries again; the account
            # stays open, and it never counts as the message's fault.
            return Decision(Verdict.RETRY, decision.wait_s, cause=decision.cause)
        tries.first_failure = tries.first_failure or now
        if answer is Answer.THROTTLED:
            assert reply.retry_after is not None  # classify gives every 429 one
            return Decision(Verdict.THROTTLED, reply.retry_after)
        tries.attempts += 1
        if answer is Answer.REJECTED:
            return self._dead_letter("rejected", _rejection(reply), reply, tries, now)
        retry = self.retry  # TRANSIENT
        too_old = retry.max_age_s is not None and now - tries.first_failure >= retry.max_age_s
        if tries.attempts >= retry.max_attempts or too_old:
            return self._dead_letter(
                "retries_exhausted", f"gave up after {tries.attempts} attempts in "
                f"{now - tries.first_failure:.0f}s: {_describe(reply)}", reply, tries, now)
        return Decision(Verdict.RETRY, backoff(tries.attempts, retry, self._rand),
                        cause=_retry_cause(reply))

    def _unavailable(self, reply: Reply, tries: Tries, now: float) -> Decision:
        since = tries.unavailable_since = tries.unavailable_since or now
        if self.give_up_after_s is not None and now - since >= self.give_up_after_s:
            return self.gave_up(tries, now, _describe(reply))
        tries.probes += 1
        return Decision(Verdict.UNAVAILABLE, backoff(tries.probes, self.retry, self._rand),
                        cause=reply.cause or _retry_cause(reply))

    def gave_up(self, tries: Tries, now: float, last: str) -> Decision:
        """freshdesk.give_up_after_s passed while Freshdesk could not be reached."""
        since = tries.unavailable_since or now
        return Decision(Verdict.DEAD_LETTER, failure=Failure(
            "unavailable", f"Freshdesk unreachable for {now - since:.0f}s (freshdesk.give_up_after_s "
            f"{self.give_up_after_s:g}): {last}", None, last, tries.attempts, since, now))

    @staticmethod
    def _dead_letter(reason: str, error: str, reply: Reply, tries: Tries, now: float) -> Decision:
        return Decision(Verdict.DEAD_LETTER, failure=Failure(
            reason, error, reply.status, reply.detail, tries.attempts, tries.first_failure, now))


class KeyClaim:
    """One activity's claim on its key in the ledger, from its first attempt to its end.

    Claimed right before each attempt: a lease left by a crash then covers only a request that
    may really have been sent, a long retry keeps its lease fresh, and a key another replica
    delivered meanwhile is seen as DELIVERED. ``unknown``: an attempt may have reached
    Freshdesk without our seeing its answer (a timeout, a dropped connection, a cancel while on
    the wire); then the claim is kept at the end until its lease runs out.
    """

    def __init__(self, ledger: Ledger, key: str, metrics: Metrics, on_unavailable:
                 Callable[[LedgerUnavailable | None], None]):
        self.ledger, self.key = ledger, key
        self.held = False  # we hold the key's claim
        self.unknown = False
        self._known_before = True
        self._metrics = metrics
        self._on_unavailable = on_unavailable  # told of each failure, and of the recovery (None)

    async def take(self) -> Claim | None:
        """Claim the key; None while the ledger cannot answer (the caller waits and retries)."""
        try:
            claim = await self.ledger.claim(self.key)
        except LedgerUnavailable as e:
            self._on_unavailable(e)
            return None
        self._on_unavailable(None)
        self.held = claim is Claim.CLAIMED
        return claim

    def sending(self) -> None:
        """An attempt goes on the wire: unknown until its answer is read (a cancel lands here)."""
        self._known_before, self.unknown = not self.unknown, True

    def answered(self, reply: Reply) -> None:
        if reply.answer is Answer.DELIVERED:
            self.held = False  # delivered(key) replaced the claim
        elif reply.status is not None or not reply.sent:
            self.unknown = not self._known_before  # an answer: this attempt stored nothing

    def end(self) -> None:
        """Dead-lettered, abandoned or halted while holding the claim: give it back only when we
        know nothing reached Freshdesk; otherwise the lease runs out on its own."""
        if not self.held:
            return
        self.held = False
        if self.unknown:
            self._metrics.unknown_outcomes.inc()
            log.info("outcome unknown for activity %s (a request may have reached Freshdesk); "
                     "its claim is kept until the lease runs out", self.key)
            return
        asyncio.get_running_loop().create_task(self._release())

    async def _release(self) -> None:
        with contextlib.suppress(LedgerUnavailable):  # else the lease runs out on its own
            await self.ledger.release(self.key)


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
