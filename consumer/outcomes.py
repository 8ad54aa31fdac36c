"""Every way a message can end, as values: the vocabulary the loop, routing, delivery and the
dead letters share.

- :class:`Delivery`: one activity, encoded and keyed, ready to post (a message becomes a tuple);
- :class:`~transforms.Filtered`: not for the timeline, with its reason (settled at once);
- :class:`Waiting`: named only by vendor ids the contact directory does not know yet;
- :class:`Failure`: dead-letter it, with one of :data:`REASONS`;
- :class:`Unavailable`: a system the message needs is down (the schema registry): not the
  message's fault; it waits, and its partition with it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from transforms import Filtered

if TYPE_CHECKING:
    from consumer.message import Message

__all__ = ["CONTACT_FACTS", "EXPECTED_REASONS", "REASONS", "Counts", "Delivery", "Failure",
           "Outcome", "Unavailable", "Waiting"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One activity, encoded and ready to post."""

    key: str  # idempotency key
    contact: str  # the contact it lands on ("email:rachel@example.com"): the ordering unit
    body: bytes


# Reason classes, each a different fix for the operator.
REASONS = {
    "decode": "the value (or key) is not in the topic's format: not JSON, not the registry's "
              "wire format, an unknown schema id, corrupt (fix the producer or the subscription)",
    "no_route": "no subscription claims the topic (fix the subscription file)",
    "transform": "the transform rejected or crashed on the event (fix the event or the transform)",
    "validation": "the activity breaks the Freshdesk contract (fix the transform)",
    "rejected": "Freshdesk answered 4xx for the activity (see dlq.response)",
    "retries_exhausted": "Freshdesk kept failing (5xx, timeouts) for this activity",
    "unavailable": "Freshdesk was unreachable for longer than freshdesk.give_up_after_s "
                   "(off by default; redrive once it is back)",
    "contact_unresolved": "no event taught the contact directory who the customer is within "
                          "contacts.wait_s (feed it, then redrive)",
}
# Data-dependent outcomes, not a bad deploy: they never count toward the dead-letter breaker.
EXPECTED_REASONS = frozenset({"contact_unresolved"})


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str  # one of REASONS
    error: str  # what an operator reads first
    status: int | None = None
    response: str | None = None
    attempts: int = 1
    first_failure: float | None = None  # epoch seconds
    last_failure: float | None = None

    def headers(self, msg: Message, group: str) -> list[tuple[str, bytes]]:
        now = time.time()
        extra = {
            "dlq.reason": self.reason,
            "dlq.error": self.error,
            "dlq.original.topic": msg.topic,
            "dlq.original.partition": str(msg.partition),
            "dlq.original.offset": str(msg.offset),
            "dlq.consumer.group": group,
            "dlq.attempts": str(self.attempts),
            "dlq.first_failure": f"{self.first_failure or now:.3f}",
            "dlq.last_failure": f"{self.last_failure or now:.3f}",
        }
        if msg.timestamp_ms is not None:
            extra["dlq.original.timestamp"] = str(msg.timestamp_ms)
        if self.status is not None:
            extra["dlq.status"] = str(self.status)
        if self.response is not None:
            extra["dlq.response"] = self.response
        kept = [(k, v) for k, v in msg.headers if not k.startswith("dlq.") and v is not None]
        return kept + [(k, v.encode()) for k, v in extra.items()]


@dataclass(frozen=True, slots=True)
class Waiting:
    """Some activity of the event names its customer only by vendor ids nobody has taught the
    directory yet (``refs``): an expected outcome while the customer's own event is on its way."""

    refs: tuple[str, ...]

    def describe(self) -> str:
        return f"waiting for the contact of {', '.join(self.refs)}"


@dataclass(frozen=True, slots=True)
class Unavailable:
    """``what`` (a metric label, e.g. ``schema_registry``) cannot be reached: ``error`` says how."""

    what: str
    error: str


Outcome: TypeAlias = tuple[Delivery, ...] | Failure | Filtered | Waiting | Unavailable
CONTACT_FACTS = Filtered("contact_facts", "the event only teaches the contact directory")


@dataclass(slots=True)
class Counts:
    """Messages by how they ended, for the progress line (metrics come from the same events).
    Owned by the poll thread."""

    consumed: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    filtered: int = 0
    parked: int = 0  # waiting for the contact directory (consumer.contacts)

    def log(self, logger: Any, **now: object) -> None:
        """The progress line: these counts and what the loop says of its state now."""
        logger.info("progress", extra={**dataclasses.asdict(self), **now})
