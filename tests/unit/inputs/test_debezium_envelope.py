"""The Debezium envelope on Debezium's own example events (tests/fixtures/inputs/MANIFEST.md)."""

from __future__ import annotations

import pytest

from tests.unit.inputs.fixtures import load, meta
from transforms.envelopes import Unwrapped, envelope_for
from transforms.envelopes.connect_types import decode_connect
from transforms.event import Filtered, TransformError

unwrap = envelope_for("debezium")


@pytest.mark.parametrize("name", ["debezium/mysql_customers_create_with-schema.json",
                                  "debezium/mysql_customers_create.json"])
def test_a_create_unwraps_to_the_new_row_with_or_without_the_schema_wrapper(name):
    result = unwrap(load(name), meta())

    assert isinstance(result, Unwrapped)
    assert result.event == {"id": 1004, "first_name": "Anne", "last_name": "Kretchmar",
                            "email": "annek@noanswer.org"}
    assert result.bindings["op"] == "c" and result.bindings["before"] is None
    assert result.bindings["source"]["table"] == "customers"


def test_an_update_binds_the_row_before_it():
    result = unwrap(load("debezium/mysql_customers_update.json"), meta())

    assert isinstance(result, Unwrapped)
    assert result.event["first_name"] == "Anne"
    assert result.bindings["before"]["first_name"] == "Anne-Marie"
    assert result.bindings["op"] == "u" and result.bindings["ts_ms"] == 1465491411815


def test_a_delete_unwraps_to_the_row_before_it():
    result = unwrap(load("debezium/postgresql_customers_delete_docs.json"), meta())

    assert isinstance(result, Unwrapped)
    assert result.event == {"id": 1} and result.bindings["op"] == "d"


def test_a_tombstone_is_filtered_not_an_error():
    assert unwrap(None, meta()) == Filtered("tombstone", "a tombstone (null value) is not an event")


def test_a_snapshot_read_is_filtered_unless_snapshots_are_included():
    event = load("debezium/postgresql_orders_snapshot-read_built.json")

    skipped = unwrap(event, meta())
    included = envelope_for("debezium", snapshot="include")(event, meta())

    assert isinstance(skipped, Filtered) and skipped.reason == "snapshot_read"
    assert "debezium shop.public.orders" in skipped.detail
    assert isinstance(included, Unwrapped) and included.bindings["op"] == "r"


def test_truncates_and_messages_are_filtered():
    for op in ("t", "m"):
        result = unwrap({"op": op, "before": None, "after": None, "source": {}}, meta())
        assert isinstance(result, Filtered) and result.reason == "event_type_not_shown"


def test_an_unwrapped_row_on_a_debezium_topic_says_what_to_change():
    with pytest.raises(TransformError, match="ExtractNewRecordState is on; use envelope: none"):
        unwrap(load("debezium/mysql_customers_row_unwrapped.json"), meta())


def test_the_logical_types_of_an_orders_update_decode_exactly():
    result = unwrap(load("debezium/postgresql_orders_update_logical-types_built.json"), meta())

    assert isinstance(result, Unwrapped)
    row = result.event
    assert row["id"] == 820982911946154508
    assert row["total"] == "1234.50"  # Decimal, scale 2: exact, as a string
    assert row["discount"] == "5.250"  # VariableScaleDecimal, scale 3
    assert row["placed_at"] == "2018-06-20T11:13:16.945104Z"  # ZonedTimestamp +02:00 -> UTC
    assert row["updated_at"] == "2018-06-20T16:13:16.945104Z"  # MicroTimestamp
    assert result.bindings["before"]["updated_at"] == "2018-06-20T15:13:16.945104Z"  # the doc's
    assert row["ship_by"] == "2018-06-20"  # Date: days since the epoch
    assert row["pickup_window_start"] == "09:30:00"  # MicroTime


@pytest.mark.parametrize("case", load("connect/jsonconverter-test_logical-types.json"),
                         ids=lambda c: c["test"])
def test_connect_logical_types_decode_as_kafkas_own_converter_test_expects(case):
    message = case["message"]

    assert decode_connect(message["payload"], message["schema"]) == case["expected"]


def test_nanosecond_and_negative_values_keep_every_digit():
    nano = {"type": "int64", "name": "io.debezium.time.NanoTimestamp"}
    neg = {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
           "parameters": {"scale": "2"}}

    assert decode_connect(1529507596945104123, nano) == "2018-06-20T15:13:16.945104123Z"
    assert decode_connect("/2Q=", neg) == "-1.56"  # two's complement of -156


def test_a_corrupt_decimal_names_its_field():
    schema = {"type": "struct", "fields": [{"field": "total", "type": "bytes",
                                            "name": "org.apache.kafka.connect.data.Decimal",
                                            "parameters": {"scale": "2"}}]}
    with pytest.raises(TransformError, match=r"after\.total: .* is not base64"):
        decode_connect({"total": "not base64!"}, schema, "after")
