"""The outbox and CloudEvents envelopes on the projects' own examples, and on CloudEvents made by
the cloudevents SDK's own Kafka binding (tests/fixtures/inputs/MANIFEST.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.unit.inputs.fixtures import message, meta
from transforms.envelopes import Unwrapped, envelope_for
from transforms.event import Filtered, TransformError

outbox = envelope_for("outbox")
cloudevent = envelope_for("cloudevents")
ORDER = {"id": 1, "lineItems": [
    {"id": 1, "item": "Debezium in Action", "status": "ENTERED", "quantity": 2, "totalPrice": 39.98},
    {"id": 2, "item": "Debezium for Dummies", "status": "ENTERED", "quantity": 1,
     "totalPrice": 29.99}], "orderDate": "2019-01-31T12:13:01", "customerId": 123}


@pytest.mark.parametrize("name", ["outbox/order_string-payload_docs.json",
                                  "outbox/order_expanded-payload_docs.json"])
def test_an_outbox_message_unwraps_to_its_payload_string_or_object(name):
    value, m = message(name)

    result = outbox(value, m)

    assert isinstance(result, Unwrapped)
    assert result.event == ORDER
    assert result.bindings["outbox"] == {"id": "4d47e190-0402-4048-bc2c-89dd54343cdc",
                                         "aggregate_id": "1", "type": None}
    assert result.key == "outbox:4d47e190-0402-4048-bc2c-89dd54343cdc"


def test_an_outbox_payload_in_the_json_converters_schema_wrapper_and_a_type_header():
    value, _m = message("outbox/order_string-payload_docs.json")
    wrapped = {"schema": {"type": "string", "optional": True}, "payload": value}
    typed = meta(key='"1"', headers={"id": "e-1", "eventType": "OrderCreated"})

    result = outbox(wrapped, typed)

    assert isinstance(result, Unwrapped) and result.event == ORDER
    assert result.bindings["outbox"] == {"id": "e-1", "aggregate_id": "1", "type": "OrderCreated"}


def test_the_raw_change_event_of_the_outbox_table_is_not_an_outbox_message():
    value, m = message("outbox/outboxevent_raw-change-event_docs.json")

    with pytest.raises(TransformError, match="no 'id' header"):
        outbox(value, m)


def test_an_outbox_payload_that_is_not_json_is_an_error():
    with pytest.raises(TransformError, match="not JSON"):
        outbox("{oops", meta(headers={"id": "e-1"}))


def test_a_structured_cloudevent_unwraps_to_its_data_and_attributes():
    value, m = message("cloudevents/structured_json-data_json-format.json")

    result = cloudevent(value, m)

    assert isinstance(result, Unwrapped)
    assert result.event == {"appinfoA": "abc", "appinfoB": 123, "appinfoC": True}
    ce = result.bindings["ce"]
    assert ce["id"] == "C234-1234-1234" and ce["source"] == "/mycontext"
    assert ce["time"] == "2018-04-05T17:31:00Z" and ce["comexampleothervalue"] == 5
    assert ce["subject"] is None
    assert result.key == "ce:/mycontext:C234-1234-1234"


def test_structured_data_base64_is_decoded_and_string_data_kept():
    b64_value, b64_meta = message("cloudevents/structured_data-base64_json-format.json")
    xml_value, xml_meta = message("cloudevents/structured_xml-string-data_json-format.json")

    assert cloudevent(b64_value, b64_meta).event == {"xyz": 123}  # type: ignore[union-attr]
    assert cloudevent(xml_value, xml_meta).event == '<much wow="xml"/>'  # type: ignore[union-attr]


def test_a_binary_cloudevent_takes_its_attributes_from_the_ce_headers():
    _value, m = message("cloudevents/binary_kafka-protocol-binding.json")

    result = cloudevent({"appinfoA": "abc"}, m)

    assert isinstance(result, Unwrapped)
    assert result.event == {"appinfoA": "abc"}
    assert result.bindings["ce"]["datacontenttype"] == "application/avro"
    assert result.bindings["ce"]["time"] == "2018-04-05T03:56:24Z"
    assert result.key == "ce:/mycontext/subcontext:1234-1234-1234"


def _sdk_event() -> CloudEvent:
    return CloudEvent(attributes={
        "specversion": "1.0", "type": "com.shop.order.paid", "source": "/shop/orders",
        "id": "evt-1", "subject": "order/1001", "time": datetime(2024, 5, 1, 10, tzinfo=UTC),
        "datacontenttype": "application/json", "partitionkey": "order-1001"},
        data={"order_id": 820982911946154508, "email": "rachel@example.com"})


def _as_meta(kafka: KafkaMessage) -> tuple[object, object]:
    value = orjson.loads(kafka.value)  # what the topic's json format decodes
    return value, meta(headers={k: v.decode() for k, v in kafka.headers.items()})


@pytest.mark.parametrize("mode", [to_binary, to_structured], ids=["binary", "structured"])
def test_cloudevents_made_by_the_sdks_kafka_binding_read_the_same_in_both_modes(mode):
    value, m = _as_meta(mode(_sdk_event(), JSONFormat()))

    result = cloudevent(value, m)  # type: ignore[arg-type]

    assert isinstance(result, Unwrapped)
    assert result.event == {"order_id": 820982911946154508, "email": "rachel@example.com"}
    ce = result.bindings["ce"]
    assert (ce["id"], ce["source"], ce["type"], ce["subject"], ce["time"]) == (
        "evt-1", "/shop/orders", "com.shop.order.paid", "order/1001", "2024-05-01T10:00:00Z")
    assert ce["partitionkey"] == "order-1001"
    assert result.key == "ce:/shop/orders:evt-1"


def test_a_message_that_is_no_cloudevent_names_the_missing_attributes():
    with pytest.raises(TransformError, match="no id, source, specversion, type"):
        cloudevent({"order_id": 1}, meta(headers={"ce_subject": "x"}))


def test_a_binary_tombstone_is_filtered():
    assert isinstance(cloudevent(None, meta()), Filtered)
