"""Run a transform on one decoded event and encode what it returns: the one place that does it.

The pipeline (consumer.routing, on the poll thread) and ``activity-consumer try`` both call
:func:`run_transform`, so ``try`` shows exactly what the consumer would do. The result is one of:

- :class:`~transforms.Filtered`: not for the timeline, with its reason (settled at once);
- a :class:`~consumer.dead_letter.Failure`: dead-letter it (reason ``transform`` or ``validation``);
- a tuple of :class:`~consumer.job.Delivery`: encoded, keyed activities, in the transform's order.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from consumer.dead_letter import Failure
from consumer.job import Delivery
from transforms import (
    FILTERED_UNSPECIFIED,
    Activity,
    ContractError,
    EventMeta,
    Filtered,
    Transform,
    TransformError,
    activity_key,
    encode,
)

__all__ = ["Outcome", "decode", "run_transform"]

log = logging.getLogger("consumer.transform")

Outcome = tuple[Delivery, ...] | Failure | Filtered


def decode(value: bytes) -> Any:
    """The message value as JSON, or a ``decode`` Failure."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as e:
        return Failure("decode", f"value is not JSON: {e}")


def run_transform(transform: Transform, name: str, event: Any, meta: EventMeta) -> Outcome:
    """``transform(event, meta)``, validated and encoded against the contract."""
    try:
        result = transform(event, meta)
    except TransformError as e:
        return Failure("transform", str(e))
    except Exception as e:  # a transform bug must not stop the partition
        log.debug("transform %s crashed on %s/%s@%s", name, meta.topic, meta.partition,
                  meta.offset, exc_info=True)
        return Failure("transform", f"transform {name!r} raised {type(e).__name__}: {e}")
    if result is None:
        return FILTERED_UNSPECIFIED
    if isinstance(result, Filtered):
        return result
    activities = [result] if isinstance(result, Activity) else result
    if not isinstance(activities, list) or not all(isinstance(a, Activity) for a in activities):
        return Failure("transform", f"transform {name!r} returned {type(result).__name__}; "
                                    "expected Activity, a list of them, Filtered or None")
    if not activities:
        return FILTERED_UNSPECIFIED
    deliveries = []
    for activity in activities:
        try:
            body = encode(activity)
        except ContractError as e:
            return Failure("validation", str(e))
        field, value = activity.contact.identifier()  # type: ignore[misc]  # encode checked it
        deliveries.append(Delivery(activity_key(activity, body), f"{field}:{value.lower()}", body))
    return tuple(deliveries)
