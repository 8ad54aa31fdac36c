"""The sample events behind the demo and the integration tests."""

from __future__ import annotations

import orjson
import pytest

from consumer_devtools.samples import BAD_EMAIL, demo_events, order_event, payment_event
from transforms import BUILTIN_TRANSFORMS, Activity, EventMeta, encode

ORDER_TYPES = ["order.created", "order.paid", "order.cancelled", "order.fulfilled",
               "order.refunded"]
PAYMENT_TYPES = ["payment.succeeded", "payment.failed", "payment.refunded", "payment.disputed"]


def meta(topic: str) -> EventMeta:
    return EventMeta(topic, 0, 0, None, None)


def test_every_demo_event_becomes_a_valid_activity() -> None:
    bad_email = []
    for topic, _key, value in demo_events():
        activity = BUILTIN_TRANSFORMS[topic](orjson.loads(value), meta(topic))
        assert isinstance(activity, Activity), value
        body = encode(activity)  # our contract accepts all of them, the bad email included
        if orjson.loads(body)["contact"] == {"email": BAD_EMAIL}:
            bad_email.append(activity)
    assert len(bad_email) == 1


def test_exactly_one_demo_email_is_malformed() -> None:
    emails = [orjson.loads(value)["customer"]["email"] for _, _, value in demo_events()]
    malformed = [e for e in emails if e.count("@") != 1]
    assert malformed == [BAD_EMAIL] == ["rachel(at)example.com"]


def test_demo_tells_a_small_story_in_time_order_keyed_by_customer() -> None:
    events = demo_events()
    assert 20 <= len(events) <= 30
    decoded = [(topic, key, orjson.loads(value)) for topic, key, value in events]
    assert {topic for topic, _, _ in decoded} == {"orders", "payments"}
    assert all(key == ev["customer"]["id"].encode() for _, key, ev in decoded)
    times = [ev["occurred_at"] for _, _, ev in decoded]
    assert times == sorted(times)
    assert {ev["type"] for _, _, ev in decoded} == set(ORDER_TYPES + PAYMENT_TYPES)
    rachel = [ev["type"] for _, key, ev in decoded if key == b"cus_rachel"]
    assert rachel[:3] == ["order.created", "payment.failed", "payment.succeeded"]
    assert len({key for _, key, _ in decoded}) >= 4


def test_demo_event_ids_are_unique_and_the_demo_is_deterministic() -> None:
    ids = [orjson.loads(value)["event_id"] for _, _, value in demo_events()]
    assert len(ids) == len(set(ids))
    assert demo_events() == demo_events()


def test_rachels_failed_payment_reads_as_the_story_says() -> None:
    for topic, _key, value in demo_events():
        ev = orjson.loads(value)
        if ev["type"] == "payment.failed":
            activity = BUILTIN_TRANSFORMS[topic](ev, meta(topic))
            assert activity is not None
            assert activity.description == (
                "Payment of 50.00 USD for order #1001 failed: the card has insufficient funds."
            )


@pytest.mark.parametrize(("build", "types", "topic"), [
    (order_event, ORDER_TYPES, "orders"), (payment_event, PAYMENT_TYPES, "payments")])
def test_generators_make_unique_ids_per_seq_and_type_and_valid_events(
    build, types, topic  # type: ignore[no-untyped-def]
) -> None:
    ids = set()
    for seq in range(1, 6):
        for type in types:
            ev = build(seq, type, email="x@example.com", customer="x")
            ids.add(ev["event_id"])
            activity = BUILTIN_TRANSFORMS[topic](ev, meta(topic))
            assert activity is not None
            encode(activity)
            assert build(seq, type, email="x@example.com", customer="x") == ev
    assert len(ids) == 5 * len(types)


def test_occurred_at_comes_from_seq_and_customer_defaults_from_it() -> None:
    first, later = order_event(1), order_event(61)
    assert first["occurred_at"] == "2024-05-01T09:01:00Z"
    assert later["occurred_at"] == "2024-05-01T10:01:00Z"
    assert first["customer"]["email"] == "customer1@example.com"
    named = payment_event(2, email="monica@example.com", customer="monica")
    assert named["customer"] == {"id": "cus_monica", "name": "Monica",
                                 "email": "monica@example.com"}
    assert payment_event(3)["payment"]["amount"] == order_event(3)["order"]["total"]
