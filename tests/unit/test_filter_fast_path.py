"""The filter fast path (ActivityConsumer._take): a message the transform's probe filters on a
partition holding nothing moves the watermark at once, with no entry; anywhere else it waits its
turn behind the messages before it, so commit-after-delivery holds with mixed partitions."""

from __future__ import annotations

import orjson

from tests.unit.fake_pipeline import (
    FakeDeadLetters,
    FakeKafka,
    FakeMessage,
    FakeStation,
    garbage,
    order,
    pipeline,
)

P0 = ("orders", 0)
P1 = ("orders", 1)


def updated(offset: int, partition: int = 0) -> FakeMessage:
    """An order event of a type ``orders`` filters (and its probe tells from the bytes)."""
    event = {"event_id": f"e-{partition}-{offset}", "type": "order.updated",
             "order": {"id": f"o-{offset}"}, "customer": {"email": "rachel@example.com"}}
    return FakeMessage(partition, offset, orjson.dumps(event))


def filtered_total(consumer, reason: str = "event_type_not_shown") -> float:
    return consumer.metrics.registry.get_sample_value(
        "activity_consumer_messages_filtered_total",
        {"topic": "orders", "transform": "orders", "reason": reason}) or 0.0


def consumed_total(consumer) -> float:
    return consumer.metrics.registry.get_sample_value(
        "activity_consumer_messages_consumed_total", {"topic": "orders"}) or 0.0


def test_filtered_messages_at_the_head_move_the_watermark_without_an_entry():
    seen = {}

    def look(k):
        seen["pending"] = k.pipeline.in_flight.pending
        seen["to_commit"] = k.pipeline.in_flight.to_commit()
        return []

    kafka, station = FakeKafka([lambda k: (k.assign(0, 1), [updated(0), updated(1),
                                                            updated(0, partition=1)])[1],
                                look]), FakeStation()
    consumer = pipeline(kafka, station, FakeDeadLetters())
    consumer.run()
    assert seen == {"pending": 0, "to_commit": {P0: 2, P1: 1}}, "nothing held, both moved"
    assert station.jobs == {}
    assert kafka.committed_now() == {P0: 2, P1: 1}
    assert consumer.counts.filtered == 3 and consumer.counts.consumed == 3
    assert filtered_total(consumer) == 3 and consumed_total(consumer) == 3


def test_a_filtered_message_behind_a_pending_one_waits_for_it():
    station = FakeStation()
    seen = {}

    def before_delivery(k):
        seen["before"] = k.pipeline.in_flight.to_commit()
        seen["pending"] = k.pipeline.in_flight.pending
        station.resolve(1)
        return []

    kafka = FakeKafka([lambda k: (k.assign(0, 1), [updated(0), order(1), updated(2), updated(3),
                                                   updated(0, partition=1)])[1],
                       before_delivery])
    consumer = pipeline(kafka, station, FakeDeadLetters())
    consumer.run()
    assert seen["before"] == {P0: 1, P1: 1}, "0 filtered at the head; 2 and 3 wait behind 1"
    assert seen["pending"] == 3, "1 in delivery, 2 and 3 held behind it"
    assert kafka.committed_now() == {P0: 4, P1: 1}
    assert consumer.counts.filtered == 4 and consumer.counts.delivered == 1
    assert filtered_total(consumer) == 4 and consumed_total(consumer) == 5


def test_a_filtered_message_behind_a_dead_letter_waits_for_its_acknowledgement():
    seen = {}

    def look(k):
        seen["sent"] = list(dlq.sent)
        seen["before_ack"] = k.pipeline.in_flight.to_commit()
        del dlq.poll  # acknowledged from now on
        return []

    dlq = FakeDeadLetters()
    dlq.poll = lambda timeout=0: None  # type: ignore[method-assign]  # not acknowledged yet
    kafka = FakeKafka([lambda k: (k.assign(0), [garbage(0), updated(1)])[1], look])
    consumer = pipeline(kafka, FakeStation(), dlq)
    consumer.run()
    assert seen == {"sent": [(0, "decode")], "before_ack": {}}, "1 waits for 0's dead letter"
    assert kafka.committed_now() == {P0: 2}
    assert consumer.counts.filtered == 1 and consumer.counts.dead_lettered == 1


def test_a_value_the_probe_is_unsure_of_goes_the_long_way_with_the_same_outcome():
    nested_first = FakeMessage(0, 1, orjson.dumps({"order": {"type": "x"},
                                                   "type": "order.updated"}))
    kafka = FakeKafka([lambda k: (k.assign(0), [updated(0), nested_first])[1]])
    consumer = pipeline(kafka, FakeStation(), FakeDeadLetters())
    consumer.run()
    assert kafka.committed_now() == {P0: 2}
    assert consumer.counts.filtered == 2 and filtered_total(consumer) == 2


def test_a_tombstone_is_not_probed():
    kafka = FakeKafka([lambda k: (k.assign(0), [FakeMessage(0, 0, None), updated(1)])[1]])
    consumer = pipeline(kafka, FakeStation(), FakeDeadLetters())
    consumer.run()
    assert kafka.committed_now() == {P0: 2}
    assert filtered_total(consumer, "tombstone") == 1 and filtered_total(consumer) == 1


def test_a_learn_only_subscription_filters_from_the_bytes_as_it_would_after_the_transform():
    kafka = FakeKafka([lambda k: (k.assign(0), [updated(0)])[1]])
    consumer = pipeline(kafka, FakeStation(), FakeDeadLetters(), learn_only=True)
    consumer.run()
    assert kafka.committed_now() == {P0: 1}
    assert filtered_total(consumer) == 1, "the transform's reason, as without the probe"


def test_filtered_messages_keep_the_breaker_s_window_healthy():
    kafka = FakeKafka([lambda k: (k.assign(0), [garbage(0), updated(1), garbage(2)])[1]])
    consumer = pipeline(kafka, FakeStation(), FakeDeadLetters())
    consumer.run()
    breaker = consumer._dead_letters.breakers._by_topic["orders"]
    assert list(breaker._window) == [True, False, True] and breaker.consecutive == 1


def test_a_value_of_a_filtered_type_is_not_parsed_past_its_type():
    """The probe's documented trade (transforms.probe): filtered, not dead-lettered as decode;
    ``try`` shows the same. A value cut short is still decoded and dead-lettered."""
    broken = FakeMessage(0, 0, b'{"type":"order.updated","order":{"id":}}')
    cut = FakeMessage(0, 1, b'{"type":"order.updated","order":{"id":"o1"')
    dlq = FakeDeadLetters()
    kafka = FakeKafka([lambda k: (k.assign(0), [broken, cut])[1]])
    consumer = pipeline(kafka, FakeStation(), dlq)
    consumer.run()
    assert filtered_total(consumer) == 1 and dlq.sent == [(1, "decode")]
    assert kafka.committed_now() == {P0: 2}
