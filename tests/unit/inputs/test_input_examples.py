"""The worked examples of examples/inputs: each sample event becomes what its expected.json says
on the timeline (the Avro one runs through the registry and broker: tests/integration)."""

from __future__ import annotations

import json

import pytest

from tests.unit.inputs.chain import EXAMPLES, example_mapping, expected, timeline
from tests.unit.inputs.fixtures import load, meta
from transforms import Filtered


def _event(name: str) -> tuple[object, object]:
    record = json.loads((EXAMPLES / name / "event.json").read_text())
    return record["value"], meta(topic=record["topic"], key=record.get("key"),
                                 headers=record.get("headers"),
                                 timestamp_ms=record.get("timestamp"))


@pytest.mark.parametrize(("name", "envelope"), [("debezium-orders", "debezium"),
                                                ("outbox-orders", "outbox"),
                                                ("cloudevents-payments", "cloudevents")])
def test_the_example_event_becomes_the_expected_activity(name, envelope):
    value, m = _event(name)

    assert timeline(value, m, envelope, example_mapping(name)) == expected(name)  # type: ignore[arg-type]


def test_the_debezium_example_filters_a_snapshot_and_an_update_that_changes_no_status():
    mapping = example_mapping("debezium-orders")
    snapshot = load("debezium/postgresql_orders_snapshot-read_built.json")
    update = load("debezium/postgresql_orders_update_logical-types_built.json")
    update["payload"]["after"]["status"] = update["payload"]["before"]["status"]

    skipped = timeline(snapshot, meta(), "debezium", mapping)
    unchanged = timeline(update, meta(), "debezium", mapping)

    assert isinstance(skipped, Filtered) and skipped.reason == "snapshot_read"
    assert isinstance(unchanged, Filtered)
    assert unchanged.detail.endswith("only new orders and status changes are shown")


def test_the_outbox_example_reads_the_expanded_payload_the_same():
    _value, m = _event("outbox-orders")
    expanded = load("outbox/order_expanded-payload_docs.json")["value"]

    assert timeline(expanded, m, "outbox", example_mapping("outbox-orders")) == expected(  # type: ignore[arg-type]
        "outbox-orders")


def test_the_cloudevents_example_filters_event_types_it_does_not_show():
    value, m = _event("cloudevents-payments")
    other = m.__class__(m.topic, m.partition, m.offset, m.timestamp, m.key,  # type: ignore[attr-defined]
                        tuple((k, b"com.acme.payments.payment.authorized" if k == "ce_type" else v)
                              for k, v in m.headers))  # type: ignore[attr-defined]

    result = timeline(value, other, "cloudevents", example_mapping("cloudevents-payments"))

    assert isinstance(result, Filtered)
    assert result.detail.endswith("com.acme.payments.payment.authorized is not shown")
