"""Declarative JSONata mappings: compile once, evaluate with the message's bindings, return
contract-checked activities; every digit of an id survives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.inputs.fixtures import meta
from transforms import Activity, ContractError, Filtered, TransformError, check, encode
from transforms.envelopes import envelope_for, enveloped
from transforms.mapping import Mapping, MappingError

ORDER_MAPPING = """
{
  "key": "orders:" & id,
  "contact": {"email": email},
  "activity": {
    "name": "Order " & id & " " & status,
    "timestamp": placed_at,
    "actor": {"id": id, "name": email},
    "source": {"name": "shop", "id": $topic},
    "object": {"type": "order", "id": id},
    "context": {"Id": "x:" & id, "Kafka time": $timestamp, "Key": $key, "Trace": $headers.trace}
  }
}
"""


def _order(order_id: int | str = 42, **extra: object) -> dict[str, object]:
    return {"id": order_id, "email": "rachel@example.com", "status": "paid",
            "placed_at": "2024-05-01T10:00:00Z", **extra}


@pytest.mark.parametrize("big", [1234567890123456, 820982911946154508, -1234567890123456])
def test_every_digit_of_a_large_integer_id_survives_a_mapping(big):
    [activity] = Mapping(ORDER_MAPPING)(_order(big), meta())  # type: ignore[misc]

    assert activity.key == f"orders:{big}"
    assert activity.name == f"Order {big} paid"
    assert activity.actor.id == str(big) and activity.object.id == str(big)  # type: ignore[union-attr]
    assert activity.context["Id"] == f"x:{big}"  # type: ignore[index]


def test_the_result_is_a_contract_checked_activity_with_the_message_bindings():
    m = meta(topic="orders", key="k-1", headers={"trace": "abc"}, timestamp_ms=1714557600123)

    result = Mapping(ORDER_MAPPING)(_order(), m)

    assert isinstance(result, list) and isinstance(result[0], Activity)
    body = encode(result[0])
    assert b'"contact":{"email":"rachel@example.com"}' in body
    assert result[0].context == {"Id": "x:42", "Kafka time": "2024-05-01T10:00:00.123Z",
                                 "Key": "k-1", "Trace": "abc"}
    assert check(result).activities == tuple(result)


def test_null_nothing_or_an_empty_array_filters_and_a_reason_can_be_given():
    m = meta()
    cases = {"status = 'paid' ? {'key': 'x'} : null": "returned nothing",
             "[]": "returned []", "nothing.here": "returned nothing",
             "{'filter': 'only paid orders are shown'}": "only paid orders are shown"}
    for source, said in cases.items():
        result = Mapping(source, "m.jsonata")({"status": "draft"}, m)
        assert isinstance(result, Filtered) and result.reason == "mapping_filtered"
        assert said in result.detail


def test_an_array_makes_several_activities_in_order():
    source = """[items.{"key": "i:" & sku, "contact": {"email": $$.email},
      "activity": {"name": "Bought " & sku, "actor": {"id": "shop", "name": "Shop", "type": "system"},
                   "source": {"name": "shop", "id": "1"}}}]"""

    result = Mapping(source)({"email": "a@example.com", "items": [{"sku": "A"}, {"sku": "B"}]},
                             meta())

    assert [a.name for a in result] == ["Bought A", "Bought B"]  # type: ignore[union-attr]
    assert all(a.timestamp == meta().timestamp for a in result)  # type: ignore[union-attr]


def test_a_syntax_error_is_reported_at_compile_time_with_file_line_and_column():
    with pytest.raises(MappingError) as caught:
        Mapping('{\n  "key": "a",\n  "contact": foo(}\n', "mappings/orders.jsonata")

    assert caught.value.line == 3 and caught.value.column == 18
    assert str(caught.value).startswith("mappings/orders.jsonata:3:18: JSONata S0211")


def test_a_failing_expression_names_the_mapping_file_and_the_jsonata_error():
    mapping = Mapping('{"key": "k", "n": total + 1}', "mappings/orders.jsonata")

    with pytest.raises(TransformError) as caught:
        mapping({"total": "12.50"}, meta())

    assert str(caught.value).startswith("mapping mappings/orders.jsonata: JSONata T2001")


def test_arithmetic_on_a_large_id_fails_loudly_instead_of_changing_it():
    mapping = Mapping('{"key": "k:" & (id + 1)}', "m.jsonata")

    with pytest.raises(TransformError, match="JSONata T2001"):
        mapping({"id": 820982911946154508}, meta())


@pytest.mark.parametrize(("result", "said"), [
    ('{"contact": {}, "activity": {}}', "key must be a non-empty string"),
    ('{"key": "k", "contact": {"email": "a@b"}, "activity": {"name": "n", "actor": {}, '
     '"source": {}, "colour": "red"}}', "activity.colour not in the contract"),
    ('{"key": "k", "contact": "a@b", "activity": {}}', "contact must be an object"),
    ('{"key": "k", "contact": {"email": "a@b"}, "activity": {"name": "n", "actor": {"id": "1",'
     ' "name": "a"}, "source": {"name": "s", "id": "1"}, "timestamp": "yesterday"}}',
     "is not an ISO-8601 time"),
])
def test_a_result_outside_the_contract_says_which_field(result, said):
    with pytest.raises(TransformError, match=said):
        Mapping(result, "m.jsonata")({}, meta())


def test_the_contract_check_still_applies_to_what_a_mapping_makes():
    source = ('{"key": "k", "contact": {"email": "a@b.c"}, "activity": {"name": "", '
              '"actor": {"id": "1", "name": "a"}, "source": {"name": "s", "id": "1"}}}')
    [activity] = Mapping(source)({}, meta())  # type: ignore[misc]

    with pytest.raises(ContractError, match=r"activity\.name: must be 1-255 characters"):
        encode(activity)


def test_a_mapping_file_is_read_relative_to_the_subscription_file(tmp_path: Path):
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "orders.jsonata").write_text(ORDER_MAPPING)

    mapping = Mapping.load("mappings/orders.jsonata", relative_to=tmp_path / "subscriptions.yaml")

    assert mapping.origin == "mappings/orders.jsonata"
    with pytest.raises(MappingError, match="cannot read the mapping"):
        Mapping.load("missing.jsonata", relative_to=tmp_path / "subscriptions.yaml")


def test_an_enveloped_mapping_sees_the_envelope_bindings():
    source = ('{"key": $event_key, "contact": {"email": email}, "activity": {"name": $ce.type, '
              '"timestamp": $ce.time, "actor": {"id": email, "name": email}, '
              '"source": {"name": "ce", "id": $ce.source}}}')
    transform = enveloped(envelope_for("cloudevents"), Mapping(source))
    m = meta(headers={"ce_id": "1", "ce_source": "/s", "ce_specversion": "1.0",
                      "ce_type": "order.paid", "ce_time": "2024-05-01T10:00:00Z"})

    [activity] = transform({"email": "a@example.com"}, m)

    assert activity.key == "ce:/s:1" and activity.name == "order.paid"


def test_a_runaway_evaluation_is_stopped_and_dead_lettered():
    spin = Mapping("($f := function($n) { $n > 0 ? $f($n - 1) : 0 }; $count([1..2000].$f(20)))",
                   "runaway.jsonata", max_cpu_s=0.05)

    with pytest.raises(TransformError, match=r"runaway.jsonata: the evaluation used more than 0.05 s"):
        spin({}, meta())


def test_a_decoded_key_replaces_the_raw_one_in_key_bindings():
    transform = enveloped(envelope_for("none"), Mapping('{"filter": $string($key.id)}', "k"))

    result = transform({}, meta(key='{"id": 7}'), {"key": {"id": 820982911946154508}})

    assert isinstance(result, Filtered) and result.detail == "mapping k: 820982911946154508"
