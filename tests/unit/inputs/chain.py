"""The input stations as the pipeline will run them, for tests: decoded value -> envelope ->
mapping -> contract check and encoding. What an example event becomes on the timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from transforms import Filtered, activity_key, check, encode
from transforms.envelopes import envelope_for, enveloped
from transforms.event import EventMeta
from transforms.mapping import Mapping

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "inputs"


def timeline(value: Any, meta: EventMeta, envelope: str, mapping: Mapping,
             snapshot: str = "skip") -> list[dict[str, Any]] | Filtered:
    """``[{"key": …, "body": …}]``: each activity's idempotency key and request body."""
    result = enveloped(envelope_for(envelope, snapshot=snapshot), mapping)(value, meta)
    checked = check(result, f"mapping {mapping.origin}")
    if checked.filtered is not None:
        return checked.filtered
    out = []
    for activity in checked.activities:
        body = encode(activity)
        out.append({"key": activity_key(activity, body), "body": orjson.loads(body)})
    return out


def example_mapping(name: str) -> Mapping:
    return Mapping.load(EXAMPLES / name / "mapping.jsonata")


def expected(name: str) -> Any:
    return orjson.loads((EXAMPLES / name / "expected.json").read_bytes())
