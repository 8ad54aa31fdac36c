"""What a transform receives, and how it says an event is bad.

A transform is a pure function ``(event, meta) -> Activity | list[Activity] | Filtered | None``:
``event`` is the decoded message value (usually a dict), ``meta`` the Kafka message it came in.
:class:`Filtered` means "not for the timeline", and says why (``None`` means the same, reason
``unspecified``); a bad event raises TransformError and is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from transforms.activity import Activity, Link

__all__ = ["FILTER_REASONS", "EventMeta", "Filtered", "Transform", "TransformError"]


class TransformError(Exception):
    """The event cannot become an activity; the message says what was missing or wrong.

    Written for an operator reading the dead-letter topic, e.g.
    ``"event has no customer email, phone or external id"`` or ``"order.total: 'abc' is not a
    decimal amount"``. The consumer adds where the message was (topic/partition/offset).
    """


@dataclass(frozen=True, slots=True)
class Filtered:
    """The event is fine but not for the timeline, and why.

    ``reason`` is a short snake_case code from a small fixed set per transform (it becomes a
    metric label, so never put ids or free text in it), e.g. ``"event_type_not_shown"``;
    ``detail`` is the sentence ``try`` and debug logs show, e.g.
    ``"stripe: customer.subscription.updated is not shown on the timeline"``.
    Filtering is an expected outcome, not an error: it never counts toward the dead-letter breaker.
    """

    reason: str
    detail: str = ""


FILTERED_UNSPECIFIED = Filtered("unspecified", "the transform returned None")

# Every reason a built-in transform (or the pipeline around it) filters with: a small fixed set,
# because each becomes a metric label value. The detail sentence carries the specifics.
FILTER_REASONS: dict[str, str] = {
    "unspecified": "the transform returned None or [] (third-party transforms)",
    "event_type_not_shown": "an event type or topic the transform does not put on timelines",
    "no_change_to_show": "an update whose payload dates no shown change to this very update",
    "already_completed": "a checkout that already became an order (the order tells the story)",
    "status_not_shown": "an order status that tells an agent nothing (pending, draft, trash)",
    "nothing_to_learn": "a customer record without email or phone: nothing to show or to learn",
    "contact_facts": "the event only teaches the contact directory (Links, no activity)",
    "tombstone": "a tombstone (null value) is not an event",
    "dead_letter_topic": "a dead-letter topic caught by a pattern is left alone",
    "learn_only": "a learn_only subscription: its events only feed the contact directory",
    "mapping_filtered": "a JSONata mapping returned null, nothing, [] or {\"filter\": reason}",
    "snapshot_read": "a Debezium snapshot read (op r): a row's past, not news (snapshot: include)",
    "payload_not_included": "a commercetools message too large for its destination, delivered "
                            "without its fields (payloadNotIncluded): read it from the API",
}


@dataclass(frozen=True, slots=True)
class EventMeta:
    """The Kafka message an event came in, as the consumer saw it."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None  # message timestamp (aware, UTC): the fallback event time
    key: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (any case), decoded as UTF-8 with replacement.

        None when there is no such header; ``""`` when it is present with a null value.
        """
        wanted = name.lower()
        for header_name, value in self.headers:
            if header_name.lower() == wanted:
                return "" if value is None else value.decode("utf-8", errors="replace")
        return None


Transform: TypeAlias = Callable[
    [Any, EventMeta], "Activity | Link | list[Activity | Link] | Filtered | None"]
