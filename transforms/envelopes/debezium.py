"""Debezium change events: unwrapped to the row, as Debezium's ``ExtractNewRecordState`` does.

A change event's value is ``{"before", "after", "op", "source", "ts_ms", …}``, or, with the JSON
converter's ``schemas.enable=true``, ``{"schema": …, "payload": {that}}``. The event a mapping or
transform reads is the row: ``after``, or ``before`` for a delete (``op: d``). Bound beside it:
``op`` (``c`` create, ``u`` update, ``d`` delete, ``r`` snapshot read), ``before`` (the row before
the change, null on a create; only the key columns unless the table's replica identity is
full), ``source`` (connector, db, schema, table, ``ts_ms`` of the change in the database, lsn…)
and ``ts_ms`` (when Debezium processed it).

Filtered, not errors: tombstones (the null value after a delete, for log compaction); snapshot
reads unless ``include_snapshot`` (a first snapshot would put every row's past on every
timeline); truncates (``t``) and logical-decoding messages (``m``).

With an inline schema the Connect logical types are decoded (:mod:`.connect_types`): decimals
exact as strings, dates, times and timestamps as ISO-8601 UTC.
"""

from __future__ import annotations

from typing import Any

from transforms.envelopes import Envelope, Unwrapped
from transforms.envelopes.connect_types import decode_connect
from transforms.event import EventMeta, Filtered, TransformError

__all__ = ["TOMBSTONE", "debezium_envelope", "unwrap_change_event"]

TOMBSTONE = Filtered("tombstone", "a tombstone (null value) is not an event")
_OPS = frozenset({"c", "u", "d", "r", "t", "m"})


def debezium_envelope(include_snapshot: bool = False) -> Envelope:
    def envelope(value: Any, meta: EventMeta) -> Unwrapped | Filtered:
        return unwrap_change_event(value, meta, include_snapshot=include_snapshot)

    return envelope


def unwrap_change_event(value: Any, meta: EventMeta, *,
                        include_snapshot: bool = False) -> Unwrapped | Filtered:
    """The row of a Debezium change event and its bindings (see the module doc)."""
    schema = None
    if isinstance(value, dict) and "payload" in value and "schema" in value and len(value) == 2:
        schema, value = value["schema"], value["payload"]
    if value is None:
        return TOMBSTONE
    op = _op(value)
    filtered = _not_shown(op, value, include_snapshot)
    if filtered is not None:
        return filtered
    fields = _fields(schema)
    before = decode_connect(value.get("before"), fields.get("before"), "before")
    after = decode_connect(value.get("after"), fields.get("after"), "after")
    row = before if op == "d" else after
    if not isinstance(row, dict):
        side = "before" if op == "d" else "after"
        raise TransformError(f"{_table(value)}: a Debezium op {op} event with no {side} row")
    source = value.get("source")
    bindings = {"op": op, "before": before, "source": source, "ts_ms": value.get("ts_ms")}
    return Unwrapped(row, bindings)


def _op(value: Any) -> str:
    """The change event's ``op``; TransformError when ``value`` is no change event."""
    if not isinstance(value, dict):
        raise TransformError(f"not a Debezium change event: expected an object with op, before "
                             f"and after (got {type(value).__name__})")
    op = value.get("op")
    if op not in _OPS:
        hint = (" (this looks like an unwrapped row: ExtractNewRecordState is on; use envelope: "
                "none)" if "op" not in value and "after" not in value else "")
        raise TransformError(f"not a Debezium change event: op is {op!r}, expected one of "
                             f"c, u, d, r, t, m{hint}")
    return op  # one of _OPS


def _not_shown(op: str, value: dict[str, Any], include_snapshot: bool) -> Filtered | None:
    """Snapshot reads (unless included), truncates and logical-decoding messages: filtered."""
    if op == "r" and not include_snapshot:
        return Filtered("snapshot_read", f"{_table(value)}: a snapshot read (op r) is the row's "
                                         "past, not news; snapshot: include shows it")
    if op in ("t", "m"):
        what = "a truncate" if op == "t" else "a logical-decoding message"
        return Filtered("event_type_not_shown", f"{_table(value)}: {what} (op {op}) is not shown")
    return None


def _fields(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    return {str(f.get("field")): f for f in schema.get("fields") or () if isinstance(f, dict)}


def _table(value: dict[str, Any]) -> str:
    source = value.get("source")
    if isinstance(source, dict):
        parts = [source.get("db"), source.get("schema"), source.get("table")]
        named = ".".join(str(p) for p in parts if p)
        if named:
            return f"debezium {named}"
    return "debezium"
