"""Debezium's outbox event router (``io.debezium.transforms.outbox.EventRouter``): the message a
service wrote to its outbox table, routed to ``outbox.event.<aggregatetype>``.

By the router's defaults the Kafka message key is the aggregate id (``aggregateid``), the event id
(``id``) is the header ``id``, and the value is the ``payload`` column: a JSON string holding the
event (the default), the event as an object (``table.expand.json.payload=true``), or either inside
the JSON converter's ``{"schema", "payload"}`` wrapper. Columns placed as headers
(``table.fields.additional.placement=type:header:eventType``) are in ``$headers``; the event type
is bound as ``outbox.type`` from the ``eventType`` or ``type`` header when there is one.

Bound: ``outbox`` = ``{"id", "aggregate_id", "type"}``; the natural idempotency key is
``outbox:<id>`` (each outbox row is one event, whatever redelivers it).
"""

from __future__ import annotations

from typing import Any

import orjson

from transforms.envelopes import Unwrapped
from transforms.envelopes.debezium import TOMBSTONE
from transforms.event import EventMeta, Filtered, TransformError

__all__ = ["EVENT_ID_HEADER", "unwrap_outbox"]

EVENT_ID_HEADER = "id"  # the router's table.field.event.id lands in this header
_TYPE_HEADERS = ("eventType", "type", "event_type")


def unwrap_outbox(value: Any, meta: EventMeta) -> Unwrapped | Filtered:
    """The outbox event (the ``payload`` column) and its id, aggregate and type bound as
    ``outbox`` (see the module doc)."""
    if isinstance(value, dict) and "payload" in value and "schema" in value and len(value) == 2:
        value = value["payload"]
    if value is None:
        return TOMBSTONE
    if isinstance(value, str):
        value = _parsed(value)
    event_id = meta.header(EVENT_ID_HEADER)
    if not event_id:
        raise TransformError(f"outbox message has no {EVENT_ID_HEADER!r} header (the event id "
                             "the outbox router writes); set table.field.event.id, or use "
                             "envelope: none")
    bindings = {"outbox": {"id": event_id, "aggregate_id": _aggregate_id(meta),
                           "type": _event_type(meta)}}
    return Unwrapped(value, bindings, key=f"outbox:{event_id}")


def _parsed(payload: str) -> Any:
    """The default payload: the event as a JSON string."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise TransformError(f"outbox payload is a string but not JSON: {e}") from None


def _event_type(meta: EventMeta) -> str | None:
    """The first non-empty of the headers an event type is placed in (_TYPE_HEADERS)."""
    return next((t for t in (meta.header(h) for h in _TYPE_HEADERS) if t), None)


def _aggregate_id(meta: EventMeta) -> str | None:
    """The message key as text: the router's ``aggregateid``."""
    aggregate = None if meta.key is None else meta.key.decode("utf-8", "replace")
    if aggregate is not None and len(aggregate) > 1 and aggregate[0] == aggregate[-1] == '"':
        aggregate = aggregate[1:-1]  # the JSON converter writes a string key as "1"
    return aggregate
