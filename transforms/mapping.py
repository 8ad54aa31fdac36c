"""Declarative mappings: a JSONata expression turns an event into activities, no Python needed.

The expression (jsonata-python, compiled once) is evaluated on the decoded, unwrapped event with
these variables bound:

=============  ===========================================================================
``$topic``      the Kafka topic; ``$partition``, ``$offset`` its numbers
``$timestamp``  the Kafka message's timestamp, ISO-8601 UTC (``2024-05-01T10:00:00.123Z``)
``$key``        the message key as text (or as decoded by ``key_format``)
``$headers``    the message headers, an object of strings (the first of each name)
``$op``         envelope debezium: ``c``, ``u``, ``d``, ``r``; ``$before``, ``$source``, ``$ts_ms``
``$ce``         envelope cloudevents: ``id``, ``source``, ``type``, ``subject``, ``time``, …
``$outbox``     envelope outbox: ``id`` (the event id header), ``aggregate_id`` (the key), ``type``
``$event_key``  the envelope's natural idempotency key (cloudevents, outbox), else null
=============  ===========================================================================

It returns the request body of shared/freshdesk-contract.md plus ``key``, the idempotency key
(required), or an array of them, or null / nothing / ``[]`` to filter (``{"filter": "why"}``
filters with a reason)::

    {"key": "orders:" & id, "contact": {"email": email},
     "activity": {"name": "Order " & number & " placed", "timestamp": created_at,
                  "actor": {...}, "source": {...}, "object": {...}, "context": {...}}}

The result becomes :class:`~transforms.activity.Activity` values, so the pipeline checks them
against the contract like a built-in's. A missing ``activity.timestamp`` is the Kafka message's;
integer ids are written as strings.

**Every digit of an id survives.** jsonata-python 0.7.1 prints numbers with 15 significant
digits (``"x:" & 1234567890123456`` gives ``"x:1.23456789012346e+15"``), so integers of 16 or
more digits reach the expression as strings (``"1234567890123456"``). Arithmetic on them is then a
type error (dead-lettered), never a silently different id.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping as MappingABC
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsonata import JException, Jsonata  # type: ignore[import-untyped]  # no py.typed

from transforms.activity import Activity, ActivityObject, Actor, Contact, Source
from transforms.event import EventMeta, Filtered, TransformError
from transforms.timefmt import parse_time

__all__ = ["BIG_INT", "Mapping", "MappingError", "bindings_for"]

# 10**15: the smallest integer jsonata-python 0.7.1 would print in exponent form (16 digits).
BIG_INT = 10**15
_FILTERED = "mapping_filtered"
_TOP = frozenset({"key", "contact", "activity"})
_ACTIVITY = frozenset({"name", "timestamp", "description", "link", "actor", "source", "object",
                       "context"})
_CONTACT = ("email", "phone", "mobile", "unique_external_id")
_ISO_MS = "%Y-%m-%dT%H:%M:%S"


class MappingError(ValueError):
    """A mapping that does not compile: ``origin`` (the file), ``line`` and ``column`` (1-based)
    where the parser stopped, and the JSONata error."""

    def __init__(self, origin: str, message: str, line: int | None = None,
                 column: int | None = None) -> None:
        where = origin if line is None else f"{origin}:{line}:{column}"
        super().__init__(f"{where}: {message}")
        self.origin, self.line, self.column = origin, line, column


class _Overrun(Exception):
    pass


class Mapping:
    """A compiled mapping. Call it as a transform, ``mapping(event, meta)``, or with the
    envelope's bindings, ``mapping.evaluate(event, meta, bindings)``.

    ``max_cpu_s`` bounds one evaluation in CPU seconds of the calling thread (a runaway
    expression on one event must not stall the poll thread): past it the event is a dead letter.
    CPU, not wall time, so a throttled pod does not fail good events."""

    def __init__(self, source: str, origin: str = "<inline mapping>", *,
                 max_cpu_s: float = 0.5) -> None:
        self.source, self.origin, self.max_cpu_s = source, origin, max_cpu_s
        try:
            self._expression = Jsonata(source)
        except JException as e:
            # JSONata's position is where the offending token ends: point at its start.
            token = e.current if isinstance(e.current, str) else ""
            line, column = _line_column(source, (e.location or 0) - len(token))
            raise MappingError(origin, f"JSONata {e.error}: {e}", line, column) from None
        except Exception as e:  # the parser's own failures (e.g. recursion on absurd nesting)
            raise MappingError(origin, f"{type(e).__name__}: {e}") from None
        self._expression.set_validate_input(False)  # _plain() below guarantees JSON types

    @classmethod
    def load(cls, path: str | Path, relative_to: str | Path | None = None) -> Mapping:
        """Compile the mapping in ``path`` (relative to ``relative_to``'s folder when given,
        the subscription file's). Raises MappingError for an unreadable file or bad syntax."""
        file = Path(path)
        if relative_to is not None and not file.is_absolute():
            file = Path(relative_to).parent / file
        try:
            source = file.read_text(encoding="utf-8")
        except OSError as e:
            raise MappingError(str(file), f"cannot read the mapping: {e.strerror}") from None
        return cls(source, str(path))

    def __call__(self, event: Any, meta: EventMeta) -> list[Activity] | Filtered:
        return self.evaluate(event, meta, None)

    def evaluate(self, event: Any, meta: EventMeta,
                 bindings: MappingABC[str, Any] | None = None) -> list[Activity] | Filtered:
        """The activities the expression makes of ``event``, or Filtered. Raises TransformError
        naming the mapping and the JSONata error (the consumer dead-letters the message)."""
        variables = bindings_for(meta)
        if bindings:
            variables.update(_plain(dict(bindings)))
        deadline = time.thread_time() + self.max_cpu_s
        steps = 0

        def on_each_step(*_: Any) -> None:  # jsonata-python calls it before every node
            nonlocal steps
            steps += 1
            # The thread's CPU clock is a system call: read it every 256 steps (~0.1 ms).
            if not steps & 255 and time.thread_time() > deadline:
                raise _Overrun

        variables["__evaluate_entry"] = on_each_step
        try:
            result = self._expression.evaluate(_plain(event), variables)
        except _Overrun:
            raise TransformError(f"mapping {self.origin}: the evaluation used more than "
                                 f"{self.max_cpu_s:g} s of CPU on this event") from None
        except JException as e:
            raise TransformError(f"mapping {self.origin}: JSONata {e.error}: {e}") from None
        except RecursionError:
            raise TransformError(f"mapping {self.origin}: the expression nests or recurses too "
                                 "deeply") from None
        except Exception as e:  # a jsonata-python bug must not stop the partition
            raise TransformError(f"mapping {self.origin}: {type(e).__name__}: {e}") from None
        return self._activities(result, meta)

    def _activities(self, result: Any, meta: EventMeta) -> list[Activity] | Filtered:
        if result is None:
            return Filtered(_FILTERED, f"mapping {self.origin} returned nothing")
        if isinstance(result, dict) and set(result) == {"filter"}:
            return Filtered(_FILTERED, f"mapping {self.origin}: {result['filter']}")
        items = result if isinstance(result, list) else [result]
        if not items:
            return Filtered(_FILTERED, f"mapping {self.origin} returned []")
        activities = []
        for index, item in enumerate(items):
            where = f"mapping {self.origin}" + (f" [{index}]" if len(items) > 1 else "")
            activities.append(_activity(item, meta, where))
        return activities


def bindings_for(meta: EventMeta) -> dict[str, Any]:
    """The variables every mapping sees, from the Kafka message (see the module doc)."""
    headers: dict[str, str] = {}
    for name, value in meta.headers:
        headers.setdefault(name, "" if value is None else value.decode("utf-8", "replace"))
    timestamp = None
    if meta.timestamp is not None:
        ts = meta.timestamp.astimezone(UTC)
        timestamp = ts.strftime(_ISO_MS) + f".{ts.microsecond // 1000:03d}Z"
    key = None if meta.key is None else meta.key.decode("utf-8", "replace")
    return {"topic": meta.topic, "partition": meta.partition, "offset": meta.offset,
            "timestamp": timestamp, "key": key, "headers": headers, "op": None, "before": None,
            "source": None, "ts_ms": None, "ce": None, "outbox": None, "event_key": None}


def _plain(value: Any) -> Any:
    """``value`` as JSONata input: integers of 16+ digits as strings (see the module doc)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -BIG_INT < value < BIG_INT:
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # a Decimal or datetime a Python caller passed: its exact text


def _line_column(source: str, offset: int | None) -> tuple[int, int]:
    offset = max(0, min(offset or 0, len(source)))
    before = source[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def _activity(item: Any, meta: EventMeta, where: str) -> Activity:
    body = _object(item, where, "the result")
    _only(body, _TOP, where, "")
    key = body.get("key")
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not key:
        raise TransformError(f"{where}: key must be a non-empty string, the idempotency key "
                             f"(e.g. \"orders:\" & id); got {_kind(key)}")
    if len(key) > 255:  # the ledger's keys stay short: a long natural key is hashed
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    contact = _object(body.get("contact"), where, "contact")
    _only(contact, frozenset(_CONTACT), where, "contact.")
    activity = _object(body.get("activity"), where, "activity")
    _only(activity, _ACTIVITY, where, "activity.")
    actor = _object(activity.get("actor"), where, "activity.actor")
    _only(actor, frozenset({"id", "name", "type"}), where, "activity.actor.")
    source = _object(activity.get("source"), where, "activity.source")
    _only(source, frozenset({"name", "id"}), where, "activity.source.")
    obj = activity.get("object")
    if obj is not None:
        obj = _object(obj, where, "activity.object")
        _only(obj, frozenset({"type", "id", "link"}), where, "activity.object.")
    context = activity.get("context")
    if context is not None and not isinstance(context, dict):
        raise TransformError(f"{where}: activity.context must be an object (got {_kind(context)})")
    return Activity(
        name=activity.get("name"),  # type: ignore[arg-type]  # the contract check reports it
        contact=Contact(**{f: _text(contact.get(f)) for f in _CONTACT}),
        # Fields pass unchecked: the contract check (check/encode) reports every wrong one.
        actor=Actor(id=_id(actor.get("id")), name=actor.get("name"),  # type: ignore[arg-type]
                    type=actor.get("type") or "contact"),
        source=Source(name=source.get("name"), id=_id(source.get("id"))),  # type: ignore[arg-type]
        timestamp=_time(activity.get("timestamp"), meta, where),
        description=activity.get("description"),
        link=activity.get("link"),
        object=None if obj is None else ActivityObject(
            type=obj.get("type"), id=_id(obj.get("id")), link=obj.get("link")),  # type: ignore[arg-type]
        context=context,
        key=key,
    )


def _object(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TransformError(f"{where}: {what} must be an object (got {_kind(value)})")
    return value


def _only(obj: dict[str, Any], allowed: frozenset[str], where: str, prefix: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise TransformError(f"{where}: {', '.join(prefix + k for k in unknown)} not in the "
                             f"contract (Freshdesk refuses unknown fields); allowed: "
                             f"{', '.join(sorted(allowed))}")


def _id(value: Any) -> Any:
    """Integer ids as their digits (exact); anything else as given, for the contract check."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _text(value: Any) -> Any:
    return None if value == "" else value


def _time(value: Any, meta: EventMeta, where: str) -> datetime:
    if value is None:
        if meta.timestamp is None:
            raise TransformError(f"{where}: activity.timestamp is missing and the Kafka message "
                                 "has no timestamp")
        return meta.timestamp
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TransformError(f"{where}: activity.timestamp must be an ISO-8601 string or epoch "
                             f"seconds/milliseconds (got {_kind(value)})")
    return parse_time(value, f"{where}: activity.timestamp")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:60]!r}"
    return "an array" if isinstance(value, list) else "an object"
