"""An Avro writer schema as the Kafka Connect schema it came from, for the Debezium envelope.

Debezium with Confluent's AvroConverter writes Connect's logical types into the Avro schema as
``connect.name`` / ``connect.parameters`` (``io.debezium.time.MicroTimestamp`` on a plain
``long``, ``io.debezium.data.VariableScaleDecimal`` on a record…). The Avro decoder hands such a
value over wrapped as the JSON converter would, ``{"schema": <this>, "payload": <value>}``, so the
envelope decodes the logical types the same way whichever converter the connector used.

Types Avro itself decodes (a ``logicalType``: decimal, date, timestamp-millis…) lose their
Connect name here: fastavro already made them exact (consumer.decoding.plain), and decoding them
twice would be wrong.
"""

from __future__ import annotations

from typing import Any

__all__ = ["connect_schema"]

_PRIMITIVES = {"int": "int32", "long": "int64", "float": "float32", "double": "float64",
               "boolean": "boolean", "string": "string", "bytes": "bytes", "null": "null"}
_MAX_DEPTH = 64


def connect_schema(avro: Any) -> dict[str, Any]:
    """The Connect-shaped schema (``type``, ``name``, ``parameters``, ``fields``, ``items``,
    ``values``) of a parsed Avro schema (a dict, a list for a union, or a type name). A named
    type used again by its name (Debezium's ``after`` is ``["null", "Value"]``) is resolved."""
    named = _Named()
    _collect(avro, None, named, 0)
    return _convert(avro, named, 0)


class _Named(dict[str, Any]):
    """Named types by name, and each one converted once: a type used again by its name is the
    same conversion (a schema that names one record twice per level was exponential: a tree of
    depth 42 took 0.67 s, 64 would have taken hours on the poll thread), and a type used inside
    itself (a recursive record) is a struct without its fields there."""

    def __init__(self) -> None:
        super().__init__()
        self.converted: dict[int, dict[str, Any]] = {}
        self.busy: set[int] = set()


def _collect(avro: Any, namespace: str | None, named: dict[str, Any], depth: int) -> None:
    """Every named type (record, enum, fixed) by its full name and its short name."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(avro, list):
        for branch in avro:
            _collect(branch, namespace, named, depth + 1)
        return
    if not isinstance(avro, dict):
        return
    if isinstance(avro.get("type"), dict | list):
        _collect(avro["type"], namespace, named, depth + 1)
        return
    name = avro.get("name")
    if isinstance(name, str) and avro.get("type") in ("record", "enum", "fixed"):
        space = avro.get("namespace", namespace)
        full = name if "." in name or not space else f"{space}.{name}"
        named.setdefault(full, avro)
        named.setdefault(name.rsplit(".", 1)[-1], avro)
        namespace = full.rsplit(".", 1)[0] if "." in full else None
    for f in avro.get("fields") or ():
        if isinstance(f, dict):
            _collect(f.get("type"), namespace, named, depth + 1)
    _collect(avro.get("items"), namespace, named, depth + 1)
    _collect(avro.get("values"), namespace, named, depth + 1)


def _convert(avro: Any, named: dict[str, Any], depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        return {"type": "unknown"}
    if isinstance(avro, list):
        return _union(avro, named, depth)
    if isinstance(avro, str):
        return _by_name(avro, named, depth)
    if not isinstance(avro, dict):
        return {"type": "unknown"}
    kind = avro.get("type")
    if isinstance(kind, dict | list):
        return _convert(kind, named, depth + 1)
    out = _shape(kind, avro, named, depth)
    name = avro.get("connect.name")
    if name and "logicalType" not in avro:
        out["name"] = name
        if isinstance(avro.get("connect.parameters"), dict):
            out["parameters"] = avro["connect.parameters"]
    return out


def _union(avro: list[Any], named: dict[str, Any], depth: int) -> dict[str, Any]:
    """Connect's optional is the union [null, X]; any other union has no Connect shape."""
    others = [branch for branch in avro if branch != "null"]
    if len(others) == 1:
        return {**_convert(others[0], named, depth + 1), "optional": True}
    return {"type": "union"}


def _by_name(avro: str, named: dict[str, Any], depth: int) -> dict[str, Any]:
    """A primitive type's name, or a named type used again (by its full or its short name)."""
    if avro in _PRIMITIVES:
        return {"type": _PRIMITIVES[avro]}
    found = named.get(avro) or named.get(avro.rsplit(".", 1)[-1])
    if found is None:
        return {"type": avro}
    if not isinstance(named, _Named):
        return _convert(found, named, depth + 1)
    key = id(found)
    if key in named.busy:  # inside itself: recursion has no Connect shape
        return {"type": "struct", "name": avro}
    if key not in named.converted:
        named.busy.add(key)
        try:
            named.converted[key] = _convert(found, named, depth + 1)
        finally:
            named.busy.discard(key)
    return named.converted[key]


# Avro's containers and the key holding what they contain; Connect's are named the same.
_CONTAINERS = {"array": "items", "map": "values"}


def _shape(kind: Any, avro: dict[str, Any], named: dict[str, Any], depth: int) -> dict[str, Any]:
    """A type given as an object (``{"type": kind, ...}``), before its Connect name."""
    if kind == "record":
        return {"type": "struct", "fields": [
            {"field": f.get("name"), **_convert(f.get("type"), named, depth + 1)}
            for f in avro.get("fields") or () if isinstance(f, dict)]}
    if isinstance(kind, str) and kind in _CONTAINERS:
        inside = _CONTAINERS[kind]
        return {"type": kind, inside: _convert(avro.get(inside), named, depth + 1)}
    return {"type": _PRIMITIVES.get(str(kind), str(kind))}
