"""Run a transform on one decoded event and encode what it returns: the one place that does it.

The pipeline (consumer.routing, on the poll thread) and ``activity-consumer try`` both call
:func:`run_transform`, so ``try`` shows exactly what the consumer would do. The result is one of:

- :class:`~transforms.Filtered`: not for the timeline, with its reason (settled at once);
- a :class:`~consumer.dead_letters.producer.Failure`: dead-letter it (reason ``transform`` or ``validation``);
- :class:`Waiting`: an activity names its customer only by vendor ids (``Contact.refs``) that the
  contact directory does not know yet; the event waits for the directory to learn them;
- a tuple of :class:`~consumer.job.Delivery`: encoded, keyed activities, in the transform's order.

The ``Link``s a transform returns are learned by the directory first, so an event that both
teaches and needs a contact (a Stripe charge with its customer's billing email) resolves itself.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from consumer.contacts.directory import with_contact
from consumer.outcomes import CONTACT_FACTS, Delivery, Failure, Outcome, Waiting
from transforms import (
    FILTERED_UNSPECIFIED,
    Activity,
    Checked,
    Contact,
    ContractError,
    EventMeta,
    Filtered,
    Link,
    Transform,
    TransformError,
    activity_key,
    check,
    encode,
)

__all__ = ["ContactLookup", "decode", "run_transform"]

log = logging.getLogger("consumer.transform")


class ContactLookup(Protocol):
    """The contact directory as the transform runner uses it (poll thread only)."""

    def learn(self, links: Sequence[Link]) -> None: ...

    def resolve(self, refs: Sequence[str]) -> Contact | None: ...




_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark some HTTP-to-Kafka bridges keep
# 19 digits in a row: an integer orjson may turn into a float (it keeps 64-bit integers only).
# Found by mapping every digit to 0 and looking for 19 zeros: two C passes, ~9x faster than the
# regular expression rb"\d{19}" (which took 7% of the poll thread's time in the delivery bench).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def decode(value: bytes) -> Any:
    """The message value as JSON, or a ``decode`` Failure. Integers keep every digit whatever
    their size: orjson makes a float of one beyond 64 bits (an id 184467440737095516160 would
    read "1.844674407370955e+20"), so a value with such a long run of digits is read again by
    the standard library, which keeps them exact (rare, and only for those values)."""
    if value[:3] == _BOM:
        value = value[3:]
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError as e:
        return Failure("decode", f"value is not JSON: {e}")
    if _LONG_NUMBER not in value.translate(_DIGITS_TO_ZERO):
        return event
    return json.loads(value)


def run_transform(transform: Transform, name: str, event: Any, meta: EventMeta,
                  directory: ContactLookup | None = None) -> Outcome:
    """``transform(event, meta)``: its Links learned, its contacts resolved, its activities
    validated and encoded against the contract."""
    result = _call(transform, name, event, meta)
    if isinstance(result, Activity) and result.contact.identifier() is not None:
        return _encode_one(result)  # the common case, without the lists below
    if result is None:
        return FILTERED_UNSPECIFIED
    if isinstance(result, (Filtered, Failure)):
        return result
    checked = _checked(result, name)
    if isinstance(checked, Failure):
        return checked
    if checked.links and directory is not None:
        directory.learn(checked.links)
    if not checked.activities:
        return CONTACT_FACTS if checked.links else FILTERED_UNSPECIFIED
    resolved = _resolve(checked.activities, directory)
    if isinstance(resolved, Waiting):
        return resolved
    deliveries: list[Delivery] = []
    for activity in resolved:
        encoded = _encode_one(activity)
        if isinstance(encoded, Failure):
            return encoded
        deliveries += encoded
    return tuple(deliveries)


def _checked(result: Any, name: str) -> Checked | Failure:
    """A list of Activities and Links, sorted and checked against the contract (contacts may
    still be vendor refs); a Failure for anything else."""
    items = [result] if isinstance(result, (Activity, Link)) else result
    if not isinstance(items, list) or not all(isinstance(a, (Activity, Link)) for a in items):
        return Failure("transform", f"transform {name!r} returned {type(result).__name__}; "
                                    "expected Activity, Link, a list of them, Filtered or None")
    try:
        return check(items, f"transform {name!r}")  # Links and refs-only contacts checked too
    except ContractError as e:
        return Failure("validation", str(e))


def _call(transform: Transform, name: str, event: Any, meta: EventMeta) -> Any:
    """What the transform returned, or the Failure its error (or its bug) becomes."""
    try:
        return transform(event, meta)
    except TransformError as e:
        return Failure("transform", str(e))
    except Exception as e:  # a transform bug must not stop the partition
        log.debug("transform %s crashed on %s/%s@%s", name, meta.topic, meta.partition,
                  meta.offset, exc_info=True)
        return Failure("transform", f"transform {name!r} raised {type(e).__name__}: {e}")


def _resolve(activities: Sequence[Activity], directory: ContactLookup | None
             ) -> list[Activity] | Waiting:
    """Each activity with a contact Freshdesk knows; Waiting when some name only unknown refs."""
    resolved: list[Activity] = []
    unknown: list[str] = []
    for activity in activities:
        if activity.contact.identifier() is None:
            # Its key, when the transform gave none, is derived before the resolution: an email
            # that changes while it waits (or before a replay) must not make it a new activity.
            keyed = activity if activity.key else dataclasses.replace(
                activity, key=activity_key(activity, orjson.dumps(activity.payload())))
            found = with_contact(keyed, directory) if directory is not None else None  # type: ignore[arg-type]
            if found is None:
                unknown += activity.contact.refs
                continue
            activity = found
        resolved.append(activity)
    return Waiting(tuple(dict.fromkeys(unknown))) if unknown else resolved


def _encode_one(activity: Activity) -> tuple[Delivery] | Failure:
    try:
        body = encode(activity)
    except ContractError as e:
        return Failure("validation", str(e))
    field, value = activity.contact.identifier()  # type: ignore[misc]  # encode checked it
    return (Delivery(activity_key(activity, body), f"{field}:{value.lower()}", body),)
