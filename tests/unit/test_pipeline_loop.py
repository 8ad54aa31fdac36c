"""The pipeline (ActivityConsumer) on a fake broker, delivery side and dead-letter producer:
assign, revoke, lost, backpressure and shutdown, each step deterministic on the test's thread."""

from __future__ import annotations

import logging

import pytest

from consumer.dead_letter import Failure
from tests.unit.fake_pipeline import FakeDeadLetters, FakeKafka, FakeStation, garbage, order, pipeline

P0 = ("orders", 0)
P1 = ("orders", 1)
REJECTED = Failure("rejected", "Freshdesk answered 400", 400)


def test_delivered_filtered_and_dead_lettered_messages_move_the_watermark_in_offset_order():
    station = FakeStation()
    seen = {}

    def deliver_out_of_order(k):
        station.resolve(2)  # offset 2 first: the watermark must still wait for 0
        return []

    def settle_first(k):
        seen["before"] = k.pipeline.in_flight.to_commit()
        station.resolve(0)
        return []

    kafka, dlq = FakeKafka([lambda k: (k.assign(0), [order(0), garbage(1), order(2)])[1],
                            deliver_out_of_order, settle_first]), FakeDeadLetters()
    consumer = pipeline(kafka, station, dlq)
    consumer.run()
    assert seen["before"] == {}, "2 and the dead letter 1 are done, but 0 is not"
    assert dlq.sent == [(1, "decode")]
    assert kafka.committed_now() == {P0: 3}, "0 delivered, 1 dead-lettered, 2 delivered"
    assert consumer.counts.delivered == 2 and consumer.counts.dead_lettered == 1


def test_revoke_waits_for_requests_on_the_wire_commits_what_is_done_and_abandons_the_rest():
    station = FakeStation()
    steps = [
        lambda k: (k.assign(0), [order(0), order(1), order(2), order(3)])[1],
        lambda k: (station.resolve(0), [])[1],
        lambda k: (station.on_the_wire(1), k.revoke(0), [])[2],
    ]
    kafka, dlq = FakeKafka(steps), FakeDeadLetters()
    consumer = pipeline(kafka, station, dlq)
    consumer.run()
    assert sorted(station.abandoned) == [2, 3], "what sent nothing past the cut stops at once"
    assert kafka.commits[-1] == {P0: 2}, "0 delivered, 1 came back from the wire, 2 and 3 abandoned"
    assert P0 not in consumer.in_flight.parts and consumer.in_flight.pending == 0


def test_a_failure_answered_during_a_revoke_is_dead_lettered_before_the_commit():
    station = FakeStation()
    steps = [
        lambda k: (k.assign(0), [order(0), order(1)])[1],
        lambda k: (station.on_the_wire(0, REJECTED), station.on_the_wire(1), k.revoke(0), [])[3],
    ]
    kafka, dlq = FakeKafka(steps), FakeDeadLetters()
    pipeline(kafka, station, dlq).run()
    assert dlq.sent == [(0, "rejected")]
    assert kafka.commits[-1] == {P0: 2}


def test_a_revoke_waits_for_messages_before_the_cut_so_the_watermark_reaches_delivered_ones():
    # Offset 0 waits (its contact is busy elsewhere); offset 1 is on the wire and is delivered.
    # Abandoning 0 would leave 1 delivered but uncommitted: its next owner would post it again.
    station = FakeStation()
    steps = [
        lambda k: (k.assign(0), [order(0), order(1, email="other@example.com"), order(2)])[1],
        lambda k: (station.on_the_wire(1), station.on_the_wire(0, sent=False), k.revoke(0), [])[3],
    ]
    kafka, dlq = FakeKafka(steps), FakeDeadLetters()
    pipeline(kafka, station, dlq).run()
    assert station.abandoned == [2]
    assert kafka.commits[-1] == {P0: 2}


def test_lost_partitions_commit_nothing_and_abandon_everything():
    station = FakeStation()
    steps = [
        lambda k: (k.assign(0, 1), [order(0), order(0, partition=1, email="x@example.com")])[1],
        lambda k: (station.resolve(0), [])[1],
        lambda k: (k.lose(0), [])[1],
    ]
    kafka, dlq = FakeKafka(steps), FakeDeadLetters()
    consumer = pipeline(kafka, station, dlq)
    consumer.run()
    assert all(P0 not in c for c in kafka.commits), "someone else owns a lost partition"
    assert P0 not in consumer.in_flight.parts


def test_a_late_result_of_a_revoked_assignment_does_not_move_the_new_assignments_watermark():
    station = FakeStation()
    late = {}

    def reassign(k):
        k.revoke(0)  # offset 0 is abandoned (not on the wire)
        late["future"] = station.jobs.pop((0, 0))[1]
        k.assign(0)
        return [order(0)]  # redelivered to us

    steps = [
        lambda k: (k.assign(0), [order(0)])[1],
        reassign,
        lambda k: [],
    ]
    kafka, dlq = FakeKafka(steps), FakeDeadLetters()
    consumer = pipeline(kafka, station, dlq)
    consumer.run()
    assert late["future"].result() is not None, "the old job ended ABANDONED"
    assert kafka.committed_now().get(P0) is None, "the redelivered message is not done yet"


def test_a_failure_that_arrives_after_the_dead_letter_producer_closed_stays_uncommitted(caplog):
    # The shutdown race: a failure still on its way when the drain deadline passes. It must not
    # reach a closed producer (that raised and skipped the final commit and close); it stays
    # uncommitted, and everything settled before it is committed.
    station = FakeStation()
    kafka = FakeKafka([lambda k: (k.assign(0), [order(0), order(1), order(2)])[1],
                       lambda k: (station.resolve(0), station.on_the_wire(1, REJECTED),
                                  station.on_the_wire(2), [])[3]])
    station.abandon = lambda futures: None  # no answer comes during the drain (deadline 0.05 s)
    dlq = FakeDeadLetters()
    dlq.on_close = lambda: (station.resolve(1, REJECTED), station.resolve(2))  # ... but after it
    consumer = pipeline(kafka, station, dlq, drain_timeout_s=0.05)
    with caplog.at_level(logging.WARNING, logger="consumer.loop"):
        assert consumer.run() == 0
    assert dlq.sent == [], "nothing is sent to a closed producer"
    assert kafka.commits[-1] == {P0: 1}, "the final commit happens, up to the failed message"
    assert kafka.closed and station.closed
    assert "not dead-lettering orders/0@1 during shutdown" in caplog.text


def test_a_failure_settled_during_the_shutdown_drain_is_dead_lettered_and_committed():
    station = FakeStation()
    kafka = FakeKafka([lambda k: (k.assign(0), [order(0), order(1)])[1],
                       lambda k: (station.resolve(0), [])[1]])
    kafka.steps.append(lambda k: (station.on_the_wire(1, REJECTED), [])[1])
    dlq = FakeDeadLetters()
    pipeline(kafka, station, dlq).run()
    assert dlq.sent == [(1, "rejected")]
    assert kafka.commits[-1] == {P0: 2}


@pytest.mark.parametrize("limit", [4])
def test_backpressure_pauses_at_the_limit_and_resumes_at_the_low_water_mark(limit):
    station = FakeStation()
    seen = {}

    def fill(k):
        k.assign(0)
        return [order(i, email=f"c{i}@example.com") for i in range(limit)]

    def settle_two(k):
        seen["paused_when_full"] = set(k.paused)
        station.resolve(0)
        station.resolve(1)
        return []

    def check(k):
        seen["paused_after"] = set(k.paused)
        return []

    kafka, dlq = FakeKafka([fill, settle_two, check]), FakeDeadLetters()
    pipeline(kafka, station, dlq, max_pending_messages=limit).run()
    assert seen["paused_when_full"] == {P0}
    assert seen["paused_after"] == set(), "2 of 4 pending is the low-water mark: resumed"


def test_readiness_does_not_need_partitions_but_a_halt_or_a_tripped_breaker_makes_it_unready():
    kafka, station, dlq = FakeKafka([]), FakeStation(), FakeDeadLetters()
    consumer = pipeline(kafka, station, dlq)
    assert consumer.readiness() == (False, "not subscribed yet")
    seen = {}
    kafka.steps = [lambda k: (seen.setdefault("no partitions", consumer.readiness()), [])[1]]
    consumer.run()
    assert seen["no partitions"] == (True, "ok"), "a replica beyond the partition count is ready"
    consumer._set_halted("the API key is wrong (401)")
    ready, why = consumer.readiness()
    assert not ready and "API key is wrong" in why


def test_consume_waits_for_one_message_when_idle_briefly_while_work_is_out_and_not_while_flowing():
    """consume(n, t) waits for n messages or t: idle it must ask for one (a quiet topic's event
    is taken at once), flowing it must not wait at all, and with work out only briefly, so the
    work's settling and commit are not held up by a quiet topic."""
    station = FakeStation()
    kafka = FakeKafka([
        lambda k: (k.assign(0), [])[1],        # idle: nothing out
        lambda k: [order(0), order(1)],         # the first message arrives
        lambda k: [],                           # flowing: take what is there
        lambda k: (station.resolve(0), station.resolve(1), [])[2],  # work out: brief waits
        lambda k: [],                           # all settled: idle again
    ])
    consumer = pipeline(kafka, station, FakeDeadLetters())
    consumer.run()
    poll_timeout = consumer.config.processing.poll_timeout_s
    assert kafka.consumed[:5] == [(1, poll_timeout), (1, poll_timeout), (500, 0), (1, 0.005),
                                  (1, poll_timeout)], kafka.consumed
    assert kafka.committed_now() == {P0: 2}
