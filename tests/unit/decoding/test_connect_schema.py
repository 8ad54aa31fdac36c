"""Avro writer schemas read back as the Connect schemas Debezium's AvroConverter wrote them from."""

from __future__ import annotations

from consumer.decoding.connect_schema import connect_schema


def test_connect_names_survive_and_named_types_used_again_resolve():
    row = {"type": "record", "name": "Value", "namespace": "db.public.t", "fields": [
        {"name": "at", "type": ["null", {"type": "long",
                                         "connect.name": "io.debezium.time.MicroTimestamp"}]}]}
    envelope = {"type": "record", "name": "Envelope", "fields": [
        {"name": "before", "type": ["null", row]},
        {"name": "after", "type": ["null", "db.public.t.Value"]}]}

    schema = connect_schema(envelope)

    after = schema["fields"][1]
    assert after["type"] == "struct" and after["optional"] is True
    assert after["fields"][0] == {"field": "at", "type": "int64", "optional": True,
                                  "name": "io.debezium.time.MicroTimestamp"}


def test_types_avro_decodes_itself_lose_their_connect_name():
    decimal = {"type": "bytes", "logicalType": "decimal", "scale": 2,
               "connect.name": "org.apache.kafka.connect.data.Decimal",
               "connect.parameters": {"scale": "2"}}

    assert connect_schema(decimal) == {"type": "bytes"}  # fastavro made it exact already


def test_a_record_that_names_itself_twice_converts_at_once_and_stops_at_itself():
    import time

    node = {"type": "record", "name": "Node", "fields": [
        {"name": "left", "type": ["null", "Node"]}, {"name": "right", "type": ["null", "Node"]}]}
    started = time.process_time()
    shape = connect_schema(node)
    assert time.process_time() - started < 1, "was exponential in the nesting depth"
    inner = shape["fields"][0]
    assert inner["type"] == "struct" and inner["optional"]
    assert inner["fields"][0] == {"field": "left", "type": "struct", "name": "Node",
                                  "optional": True}, "inside itself: a struct, no fields"
