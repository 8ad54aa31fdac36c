"""Decoded values as plain JSON-like Python, the one shape mappings and transforms see.

Avro and Protobuf decoders hand back Python types JSON has no word for; each becomes the string a
person would write, exactly: Decimal ``"1234.50"`` (never a float), datetime as ISO-8601 UTC
``"2024-05-01T10:00:00.123456Z"``, date ``"2024-05-01"``, time ``"10:00:00"``, bytes as base64,
UUID as text. Everything else passes as it is.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

__all__ = ["iso_instant", "plain"]

_SCALARS = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """``value`` with every non-JSON leaf turned into its exact string (see the module doc)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def iso_instant(value: datetime) -> str:
    """ISO-8601 in UTC with ``Z``, microseconds only when there are any. A naive datetime is
    taken as UTC (Avro's local-timestamp and Connect's Timestamp carry no zone)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    text = value.replace(tzinfo=None).isoformat()
    return text + "Z"
