"""Events whose contact is not known yet: parked in the waiting topic, so their source partition
commits past them; delivered once the directory learns the contact; dead-lettered as
contact_unresolved after contacts.wait_s, without counting toward the dead-letter breaker."""

from __future__ import annotations

import time

import orjson

from consumer.contacts.park_record import park_headers, unpark
from consumer.message import Message
from tests.unit.fake_pipeline import (
    TOPIC,
    FakeDeadLetters,
    FakeKafka,
    FakeMessage,
    FakeStation,
    pipeline,
)

WAITING = "g.waiting"  # the fake pipeline's group is "g"
TRANSFORM = "tests.unit.contact_transforms:transform"


def charge(offset: int, customer: str = "cus_1") -> FakeMessage:
    return FakeMessage(0, offset, orjson.dumps({"kind": "charge", "id": f"ch_{offset}",
                                                "customer": customer}))


def customer(offset: int, cid: str = "cus_1") -> FakeMessage:
    return FakeMessage(0, offset, orjson.dumps({"kind": "customer", "id": cid,
                                                "email": "rachel@example.com"}))


def read_back(dlq: FakeDeadLetters, n: int, offset: int) -> FakeMessage:
    """The n-th park record, as the consumer reads it from the waiting topic."""
    topic, _, headers = dlq.produced[n]
    assert topic == WAITING
    source = charge(int(headers["park.original.offset"]))
    return FakeMessage(0, offset, source.value(), topic=WAITING,
                       headers=[(k, v) for k, v in headers.items()])


def test_park_headers_round_trip_to_the_original_message():
    original = Message("stripe", 3, 42, b"k", b"{}", (("x-trace", b"1"),), 1_700_000_000_000)
    headers = park_headers(original, ("stripe:cus_1",), since=1000.0)
    parked = unpark(Message(WAITING, 0, 7, b"k", b"{}", headers, None))
    assert parked.original == original and parked.since == 1000.0
    assert "not a park record" in unpark(Message(WAITING, 0, 8, None, b"{}", (), None))


def test_an_event_waits_in_the_waiting_topic_and_is_delivered_once_its_customer_is_known():
    station, dlq = FakeStation(), FakeDeadLetters()
    seen = {}

    def read_parked_record(k):
        seen["source committed"] = k.pipeline.in_flight.parts[(TOPIC, 0)].watermark
        return [read_back(dlq, 0, offset=0)]


    def customer_arrives(k):
        seen["waiting"] = k.pipeline.metrics.registry.get_sample_value(
            "activity_consumer_events_waiting")
        return [customer(1)]

    def deliver(k):
        (job, _), = station.jobs.values()
        seen["job"] = job
        station.resolve(0)
        return []

    kafka = FakeKafka([
        lambda k: (k.assign(0), k.assign(0, topic=WAITING), [charge(0)])[2],
        lambda k: [],  # the park record is acknowledged; the source commits past it
        read_parked_record, customer_arrives, deliver, lambda k: [],
    ])
    consumer = pipeline(kafka, station, dlq, transform=TRANSFORM)
    consumer.run()
    assert seen["source committed"] == 1, "parked: the source watermark passes it"
    assert kafka.committed_now()[(TOPIC, 0)] == 2, "charge parked, customer learned"
    assert seen["waiting"] == 1, "still unknown when read back: it waits in the room"
    body = orjson.loads(seen["job"].deliveries[0].body)
    assert body["contact"] == {"email": "rachel@example.com"}
    assert seen["job"].message.topic == TOPIC, "delivered as the original event"
    assert kafka.committed_now()[(WAITING, 0)] == 1
    assert consumer.counts.parked == 1 and dlq.sent == []


def test_a_known_customer_is_resolved_at_once_and_nothing_is_parked():
    station, dlq = FakeStation(), FakeDeadLetters()
    kafka = FakeKafka([lambda k: (k.assign(0), [customer(0), charge(1)])[1],
                       lambda k: (station.resolve(1), [])[1]])
    consumer = pipeline(kafka, station, dlq, transform=TRANSFORM)
    consumer.run()
    assert dlq.produced == [] and kafka.committed_now() == {(TOPIC, 0): 2}
    assert consumer.counts.filtered == 1, "the customer event only teaches (contact_facts)"


def test_past_wait_s_it_is_dead_lettered_as_contact_unresolved_without_tripping_the_breaker():
    station, dlq = FakeStation(), FakeDeadLetters()
    old = time.time() - 100
    records = []
    for i in range(5):
        headers = dict(park_headers(Message(TOPIC, 0, i, None, charge(i, f"nobody{i}").value(), (),
                                            None), (f"test:nobody{i}",), since=old))
        records.append(FakeMessage(0, i, charge(i, f"nobody{i}").value(), topic=WAITING,
                                   headers=list(headers.items())))
    kafka = FakeKafka([lambda k: (k.assign(0, topic=WAITING), records)[1], lambda k: []])
    consumer = pipeline(kafka, station, dlq, transform=TRANSFORM, contacts={"wait_s": 10},
                        dead_letter={"breaker": {"max_consecutive": 2, "min_messages": 2,
                                                 "window": 2}})
    consumer.run()
    assert dlq.sent == [(i, "contact_unresolved") for i in range(5)], (
        "all five: missing data is not a bad deploy, the breaker stays closed")
    assert kafka.committed_now() == {(WAITING, 0): 5}
    assert consumer.readiness.check() == (True, "ok")


def test_a_learn_only_subscription_teaches_the_directory_and_posts_nothing():
    station, dlq = FakeStation(), FakeDeadLetters()
    kafka = FakeKafka([lambda k: (k.assign(0), [customer(0), charge(1, "cus_1")])[1]])
    consumer = pipeline(kafka, station, dlq, transform=TRANSFORM, learn_only=True)
    consumer.run()
    assert station.jobs == {} and dlq.produced == [], "nothing posted, nothing parked"
    assert consumer.counts.filtered == 2
    assert kafka.committed_now() == {(TOPIC, 0): 2}
