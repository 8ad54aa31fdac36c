"""Parking: an event whose contact is not known yet waits in Kafka, not in the source partition.

A Stripe ``charge.failed`` that names only ``cus_…`` cannot reach a timeline until the directory
learns that customer (its ``customer.created`` may come later, on another topic). Holding it in
its source partition would hold that partition's commit watermark, and everything settled after
it would be redelivered by a restart. So the event is *parked*: produced, untouched, to the
consumer group's waiting topic with ``park.*`` headers saying where it came from and since when
it waits. Once the broker acknowledges the park record, the source message is settled like a
dead letter, and its partition commits past it.

The consumer also reads the waiting topic. A parked record is re-run (transform and directory)
when it arrives; if its contact is still unknown it waits in the poll thread's waiting room
(consumer.contacts.waiting_room) until the directory learns one of its refs (delivered then), or until
``contacts.wait_s`` after it was first parked (dead-lettered as ``contact_unresolved`` to the
original topic's dead-letter topic, redrivable later). What can be committed:

- the source partition: past a parked message as soon as its park record is acknowledged;
- the waiting topic: its own watermark, which waits for its oldest record still waiting, at
  most ``contacts.wait_s``. A restart re-reads those records and they wait again, with their
  original ``park.since`` (the wait is not restarted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from consumer.message import Headers, Message

__all__ = ["PARK_PREFIX", "Parked", "park_headers", "unpark"]

PARK_PREFIX = "park."
_TOPIC, _PARTITION, _OFFSET = "park.original.topic", "park.original.partition", "park.original.offset"
_TIMESTAMP, _SINCE, _REFS = "park.original.timestamp", "park.since", "park.refs"


def park_headers(msg: Message, refs: tuple[str, ...], since: float | None = None) -> Headers:
    """The original headers (``park.*`` ones out) plus where it came from and since when it waits."""
    kept = tuple((k, v) for k, v in msg.headers if not k.startswith(PARK_PREFIX))
    extra = {_TOPIC: msg.topic, _PARTITION: str(msg.partition), _OFFSET: str(msg.offset),
             _SINCE: f"{time.time() if since is None else since:.3f}", _REFS: " ".join(refs)}
    if msg.timestamp_ms is not None:
        extra[_TIMESTAMP] = str(msg.timestamp_ms)
    return kept + tuple((k, v.encode()) for k, v in extra.items())


@dataclass(frozen=True, slots=True)
class Parked:
    """A record of the waiting topic, read back: the original message and since when it waits."""

    original: Message
    since: float


def unpark(record: Message) -> Parked | str:
    """The parked original, or why the record is not a park record (it is then dead-lettered)."""
    park = {k: (v or b"").decode(errors="replace") for k, v in record.headers
            if k.startswith(PARK_PREFIX)}
    try:
        topic = park[_TOPIC]
        partition, offset = int(park[_PARTITION]), int(park[_OFFSET])
        since = float(park[_SINCE])
        timestamp = int(park[_TIMESTAMP]) if _TIMESTAMP in park else None
    except KeyError as e:
        return f"not a park record: header {e.args[0]} is missing"
    except ValueError as e:
        return f"not a park record: {e}"
    headers = tuple((k, v) for k, v in record.headers if not k.startswith(PARK_PREFIX))
    return Parked(Message(topic, partition, offset, record.key, record.value, headers, timestamp),
                  since)
