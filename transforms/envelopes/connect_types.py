"""Kafka Connect logical types, decoded from the schema a change event carries inline (the JSON
converter's ``schemas.enable=true``): what Debezium's numbers and base64 strings really are.

Decimals become exact strings (never floats); dates ``YYYY-MM-DD``; times ``HH:MM:SS[.fff…]``;
instants ISO-8601 UTC with ``Z`` and every sub-second digit the type carries (ms, µs or ns);
``ZonedTimestamp`` strings normalized to UTC. Anything else passes as it is.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from transforms.event import TransformError

__all__ = ["decode_connect"]

_EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DECIMAL = "org.apache.kafka.connect.data.Decimal"
_VARIABLE_DECIMAL = "io.debezium.data.VariableScaleDecimal"
# name -> (kind, units per second)
_INSTANTS = {
    "org.apache.kafka.connect.data.Timestamp": 1000,
    "io.debezium.time.Timestamp": 1000,
    "io.debezium.time.MicroTimestamp": 1_000_000,
    "io.debezium.time.NanoTimestamp": 1_000_000_000,
}
_TIMES = {
    "org.apache.kafka.connect.data.Time": 1000,
    "io.debezium.time.Time": 1000,
    "io.debezium.time.MicroTime": 1_000_000,
    "io.debezium.time.NanoTime": 1_000_000_000,
}
_DATES = frozenset({"org.apache.kafka.connect.data.Date", "io.debezium.time.Date"})
_ZONED = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


def decode_connect(value: Any, schema: Any, where: str = "") -> Any:
    """``value`` with every logical type ``schema`` names decoded (see the module doc). Raises
    TransformError naming the field for a value its schema says cannot be (a corrupt decimal)."""
    if value is None or not isinstance(schema, dict):
        return value
    name = schema.get("name")
    if name is not None:
        decoded = _logical(name, value, schema, where)
        if decoded is not _NOT_LOGICAL:
            return decoded
    return _nested(value, schema, where)


def _nested(value: Any, schema: dict[str, Any], where: str) -> Any:
    """A struct's fields, an array's items, a map's values, each decoded by its own schema."""
    kind = schema.get("type")
    if kind == "struct" and isinstance(value, dict):
        return _struct(value, schema, where)
    if kind == "array" and isinstance(value, list):
        items = schema.get("items")
        return [decode_connect(v, items, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        values = schema.get("values")
        return {k: decode_connect(v, values, f"{where}.{k}") for k, v in value.items()}
    return value


def _struct(value: dict[str, Any], schema: dict[str, Any], where: str) -> dict[str, Any]:
    fields = {f.get("field"): f for f in schema.get("fields") or () if isinstance(f, dict)}
    return {k: decode_connect(v, fields.get(k), f"{where}.{k}" if where else k)
            for k, v in value.items()}


_NOT_LOGICAL = object()


def _logical(name: str, value: Any, schema: dict[str, Any], where: str) -> Any:
    if name == _DECIMAL:
        scale = (schema.get("parameters") or {}).get("scale", "0")
        return _decimal(value, int(scale), where)
    if name == _VARIABLE_DECIMAL and isinstance(value, dict):
        return _decimal(value.get("value"), int(value.get("scale") or 0), where)
    if name in _DATES and _is_int(value):
        return (_EPOCH_DAY + timedelta(days=value)).isoformat()
    if name in _INSTANTS and _is_int(value):
        return _instant(value, _INSTANTS[name])
    if name in _TIMES and _is_int(value):
        return _time_of_day(value, _TIMES[name])
    if name == "io.debezium.time.ZonedTimestamp" and isinstance(value, str):
        return _zoned(value, where)
    return _NOT_LOGICAL


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _decimal(value: Any, scale: int, where: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):  # decimal.format=NUMERIC
        return format(Decimal(repr(value)), "f")
    if not isinstance(value, str):
        raise TransformError(f"{where}: a Connect Decimal must be base64 bytes (got {value!r:.40})")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TransformError(f"{where}: {value!r:.40} is not base64 (a Connect Decimal)") from None
    unscaled = int.from_bytes(raw, "big", signed=True)  # two's complement, as Java's BigInteger
    return format(Decimal(unscaled).scaleb(-scale), "f")


def _instant(value: int, per_second: int) -> str:
    seconds, fraction = divmod(value, per_second)
    moment = _EPOCH + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(fraction, per_second) + "Z"


def _time_of_day(value: int, per_second: int) -> str:
    seconds, fraction = divmod(value, per_second)
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}{_fraction(fraction, per_second)}"


def _fraction(fraction: int, per_second: int) -> str:
    if not fraction:
        return ""
    return "." + f"{fraction:0{len(str(per_second)) - 1}d}"


def _zoned(value: str, where: str) -> str:
    match = _ZONED.match(value)
    if match is None:
        raise TransformError(f"{where}: {value!r:.60} is not an ISO-8601 ZonedTimestamp")
    whole, digits, zone = match.groups()
    moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    utc = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return utc + (f".{digits}" if digits else "") + "Z"
