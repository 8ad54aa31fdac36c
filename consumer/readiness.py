"""Readiness: whether this replica does its work, and if not, why, by cause.

Each cause has one owner thread that writes it (``set``); the health server's thread only reads
(``check``). A cause's value is a string or None, replaced whole: no thread ever reads-modifies-
writes another's value, so no lock is needed.

Owning partitions is not a condition: a replica beyond the partition count, or one waiting out
a rebalance, is healthy and ready to take over; what it owns is the ``assigned_partitions``
metric.
"""

from __future__ import annotations

__all__ = ["CAUSES", "Readiness"]

# cause → who writes it
CAUSES = {
    "starting": "the poll thread, until the brokers first answer (a group joined, an assignment)",
    "kafka": "the poll thread: cannot fetch (brokers down, credentials refused, no coordinator)",
    "delivery": "the delivery thread: halted (401/403/404, a redirect: the configuration)",
    "freshdesk": "the delivery thread: Freshdesk unreachable (refused, DNS, TLS, timeouts, 5xx)",
    "budget_store": "the delivery thread: the shared budget's Redis away past its grace",
    "ledger": "the delivery thread: the idempotency ledger not answering (nothing is posted)",
    "dead_letters": "the poll thread: a topic's dead-letter breaker tripped",
    "dead_letter_writes": "the poll thread: dead letters that could not be written (they wait)",
    "inputs": "the poll thread: the schema registry unavailable, partitions wait (consumer.holds)",
}


class Readiness:
    def __init__(self) -> None:
        self._why: dict[str, str | None] = dict.fromkeys(CAUSES)
        self._why["starting"] = "not subscribed yet"

    def set(self, cause: str, reason: str | None) -> None:
        """``reason`` None: this cause no longer keeps the replica from being ready."""
        if cause not in self._why:
            raise KeyError(f"unknown readiness cause {cause!r}; known: {', '.join(CAUSES)}")
        self._why[cause] = reason

    def reason(self, cause: str) -> str | None:
        return self._why[cause]

    def check(self) -> tuple[bool, str]:
        """(ready, why): the first cause that holds, in CAUSES order; ``ok`` when none does."""
        for cause in CAUSES:
            reason = self._why[cause]
            if reason is not None:
                return False, reason
        return True, "ok"
