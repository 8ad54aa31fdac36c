"""transforms.probe: a probe filters only what its transform would filter, with the very same
Filtered, and says "unsure" (None) for everything else.

The property is checked over every sample event (consumer_devtools.samples), the vendor fixtures
and the filter bench's events, each re-serialised a few ways (compact, indented, spaced, keys
shuffled, type renamed), and over hand-made edge cases the scanner must not be fooled by."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.filter_path import filtered_event
from consumer_devtools.samples import demo_events, order_event, payment_event
from transforms import BUILTIN_TRANSFORMS, EventMeta, Filtered, TransformError
from transforms.probe import probe_of

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"
META = EventMeta("t", 0, 0, datetime(2026, 1, 1, tzinfo=UTC), None, ())
PROBED = sorted(name for name, t in BUILTIN_TRANSFORMS.items() if probe_of(t) is not None)
TYPES = ["order.created", "order.paid", "order.cancelled", "order.fulfilled", "order.refunded",
         "order.updated", "order.viewed", "payment.succeeded", "payment.failed",
         "payment.refunded", "payment.disputed", "payment.pending", "", "x" * 300, "ü.event"]


def transform_outcome(name: str, raw: bytes) -> Any:
    """What the pipeline does without the probe: decode, then the transform."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "decode"
    try:
        return BUILTIN_TRANSFORMS[name](event, META)
    except TransformError as e:
        return f"TransformError: {e}"


def sample_events() -> Iterator[Any]:
    for seq in range(1, 6):
        for kind in TYPES:
            yield order_event(seq, kind)
            yield payment_event(seq, kind) if kind.startswith("payment") else payment_event(seq)
    for _, _, value in demo_events():
        yield orjson.loads(value)
    for path in sorted(VENDORS.rglob("*.json")):
        yield orjson.loads(path.read_bytes())
    rnd = random.Random(7)
    for size in (1, 2, 12):
        yield filtered_event(1, size, rnd)


def serialisations(event: Any, rnd: random.Random) -> Iterator[bytes]:
    yield orjson.dumps(event)
    yield orjson.dumps(event, option=orjson.OPT_INDENT_2)
    yield json.dumps(event).encode()  # ", " and ": " between tokens
    yield json.dumps(event, ensure_ascii=True, indent="\t").encode() + b"\r\n"
    if isinstance(event, dict):
        keys = list(event)
        for _ in range(3):
            rnd.shuffle(keys)
            yield orjson.dumps({k: event[k] for k in keys})
        for kind in ("order.updated", "payment.pending", "order.created", "payment.failed"):
            yield orjson.dumps({**event, "type": kind})


def test_probed_transforms_are_orders_and_payments() -> None:
    assert PROBED == ["orders", "payments"]


@pytest.mark.parametrize("name", PROBED)
def test_a_probe_filters_only_what_the_transform_filters_with_the_same_filtered(name: str) -> None:
    probe = probe_of(BUILTIN_TRANSFORMS[name])
    assert probe is not None
    rnd = random.Random(20260101)
    probed = checked = 0
    for event in sample_events():
        for raw in serialisations(event, rnd):
            checked += 1
            said = probe(raw)
            if said is not None:
                probed += 1
                assert transform_outcome(name, raw) == said, raw[:300]
    assert checked > 1000 and probed > 100, (checked, probed)  # it does filter, and often


@pytest.mark.parametrize(("raw", "why"), [
    (b'{"event_id":"e1","type":"order.created","order":{}}', "a type it shows"),
    (b'{"order":{"type":"x"},"type":"order.updated"}', "an object before the type"),
    (b'{"tags":["a"],"type":"order.updated"}', "an array before the type"),
    (b'{"type":"order.upd\\u0061ted"}', "an escape in the type"),
    (b'{"type":"order.upd\\u0061ted","x":1}', "an escape in the type"),
    (b'{"note":"say \\"hi\\"","type":"order.updated"}', "an escape before the type"),
    (b'{"type":"order.updated","type":"order.created"}', "a later duplicate wins"),
    (b'{"type":"order.updated","typ\\u0065":"order.created"}', "an escaped duplicate"),
    (b'{"type":"order.updated","meta":{"type":"x"}}', "a nested key of the same name"),
    (b'{"type":"order.updated","note":"a\\\\b"}', "a backslash after the type"),
    (b'{"type":"order.updated","order":{"id":"o1"', "cut short"),
    (b'{"type":"order.updated","order":{"id":"o1"}} x', "not ending with }"),
    (b'{"type":""}', "an empty type (the transform rejects it)"),
    (b'{"type":1}', "a number (the transform rejects it)"),
    (b'{"type":null}', "null (the transform rejects it)"),
    (b'["type","order.updated"]', "not an object"),
    (b'{"type":"\xff\xfe"}', "not UTF-8"),
    (b'{"type":"order.\x01updated"}', "a control character"),
    (b'{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,'
     b'"n":14,"o":15,"p":16,"q":17,"type":"order.updated"}', "too many keys before the type"),
    (b"", "empty"),
])
def test_unsure_cases_fall_back_to_the_decode(raw: bytes, why: str) -> None:
    probe = probe_of(BUILTIN_TRANSFORMS["orders"])
    assert probe is not None
    assert probe(raw) is None, why


def test_scalars_and_whitespace_before_the_type_are_read_through() -> None:
    probe = probe_of(BUILTIN_TRANSFORMS["orders"])
    assert probe is not None
    raw = b' \n{ "event_id" : "e1", "n": -1.5e3, "ok": true, "x": null,\r\n\t"type" : "order.x" }\n'
    expected = Filtered("event_type_not_shown", "orders: order.x is not shown on the timeline")
    assert probe(raw) == expected == transform_outcome("orders", raw)
    assert probe(raw) is probe(raw), "one Filtered per type, not one per message"


def test_a_long_type_is_clipped_as_the_transform_clips_it() -> None:
    probe = probe_of(BUILTIN_TRANSFORMS["orders"])
    assert probe is not None
    raw = orjson.dumps({"type": "t" * 300})
    assert probe(raw) == transform_outcome("orders", raw)
    assert probe(raw).detail.startswith("orders: " + "t" * 99 + "…")  # type: ignore[union-attr]


def test_a_transform_without_a_probe_has_none() -> None:
    assert probe_of(BUILTIN_TRANSFORMS["stripe"]) is None
    assert probe_of(lambda event, meta: None) is None
