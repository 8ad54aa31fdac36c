"""Reading the input-shape fixtures (tests/fixtures/inputs, see its MANIFEST.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transforms.event import EventMeta

INPUTS = Path(__file__).resolve().parents[2] / "fixtures" / "inputs"


def load(name: str) -> Any:
    return json.loads((INPUTS / name).read_text())


def message(name: str, topic: str = "t") -> tuple[Any, EventMeta]:
    """A whole-message fixture as (value, meta)."""
    record = load(name)
    return record["value"], meta(topic=record.get("topic", topic), key=record.get("key"),
                                 headers=record.get("headers") or {},
                                 timestamp_ms=record.get("timestamp"))


def meta(topic: str = "t", key: str | None = None, headers: dict[str, str] | None = None,
         timestamp_ms: int | None = 1_700_000_000_000, offset: int = 0) -> EventMeta:
    ts = None if timestamp_ms is None else datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return EventMeta(topic, 0, offset, ts, None if key is None else key.encode(),
                     tuple((k, v.encode()) for k, v in (headers or {}).items()))
