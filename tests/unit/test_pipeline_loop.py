"""The pipeline (ActivityConsumer) on a fake broker, delivery side and dead-letter producer:
assign, revoke, lost, backpressure and shutdown, each step deterministic on the test's thread."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from consumer.backpressure import Backpressure
from consumer.outcomes import Failure
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


def test_a_full_loop_takes_nothing_and_waits_for_results_without_pausing_its_partitions():
    """Pausing drops librdkafka's prefetched messages (refetched after the resume: a gap with
    nothing to deliver), so a loop that is full for less than pause_after_s only stops taking."""
    limit = 4
    station = FakeStation()
    seen: dict[str, object] = {}

    def results_once_full(consumer) -> None:
        full = consumer.metrics.paused
        assert wait_until(lambda: full._value.get() == 1), "the loop never became full"
        seen["consumed_while_full"] = len(kafka.consumed)
        station.resolve(0)
        station.resolve(1)

    def fill(k):
        k.assign(0)
        threading.Thread(target=results_once_full, args=(k.pipeline,), daemon=True).start()
        return [order(i, email=f"c{i}@example.com") for i in range(limit)]

    def check(k):
        seen["paused"] = set(k.paused)
        return []

    kafka = FakeKafka([fill, check])
    pipeline(kafka, station, FakeDeadLetters(), max_pending_messages=limit,
             pause_after_s=60).run()
    assert seen["consumed_while_full"] == 1, "nothing was asked of the broker while full"
    assert seen["paused"] == set(), "2 of 4 open is the low-water mark: taking again, never paused"
    assert kafka.committed_now() == {P0: 2}


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def test_done_messages_behind_a_slow_one_do_not_count_against_the_limit_but_are_bounded_too():
    """One slow request at a partition's head holds its watermark: the messages done after it
    wait there, uncommittable. They are not work, so they do not pause intake (delivery stays
    busy), until they reach held_factor x the limit (memory); then one settle frees them all."""
    limit = 4
    cap = Backpressure(limit).cap  # held: held_factor x the limit
    station = FakeStation()
    seen: dict[str, object] = {}

    def orders(first: int, n: int) -> list:
        return [order(i, email=f"c{i}@example.com") for i in range(first, first + n)]

    def settle_all_but_the_head(k):
        seen["paused_when_open_full"] = set(k.paused)
        for i in range(1, limit):
            station.resolve(i)
        return []

    def fill_behind_the_head(k):
        seen["paused_with_3_done_behind"] = set(k.paused)
        return orders(limit, cap - limit)

    def settle_those(k):
        for i in range(limit, cap):
            station.resolve(i)
        return []

    def settle_the_head(k):
        seen["paused_when_held_full"] = set(k.paused)
        seen["held"] = k.pipeline.in_flight.pending
        station.resolve(0)
        return []

    def check(k):
        seen["paused_at_the_end"] = set(k.paused)
        return []

    steps = [lambda k: (k.assign(0), orders(0, limit))[1], settle_all_but_the_head,
             fill_behind_the_head, settle_those, settle_the_head, check]
    kafka = FakeKafka(steps)
    pipeline(kafka, station, FakeDeadLetters(), max_pending_messages=limit).run()
    assert seen["paused_when_open_full"] == {P0}, "4 open of 4"
    assert seen["paused_with_3_done_behind"] == set(), "1 open, 3 done behind it: resumed"
    assert seen["paused_when_held_full"] == {P0} and seen["held"] == cap, "1 open, 15 done behind"
    assert seen["paused_at_the_end"] == set()
    assert kafka.committed_now() == {P0: cap}


def test_readiness_does_not_need_partitions_but_a_halt_or_a_tripped_breaker_makes_it_unready():
    kafka, station, dlq = FakeKafka([]), FakeStation(), FakeDeadLetters()
    consumer = pipeline(kafka, station, dlq)
    assert consumer.readiness.check() == (False, "not subscribed yet")
    seen = {}
    kafka.steps = [lambda k: (seen.setdefault("subscribed", consumer.readiness.check()), [])[1],
                   lambda k: (k.assign(), [])[1],  # the group joined: nothing to own
                   lambda k: (seen.setdefault("no partitions", consumer.readiness.check()), [])[1]]
    consumer.run()
    assert seen["subscribed"] == (False, "subscribed; waiting for the Kafka brokers' first answer")
    assert seen["no partitions"] == (True, "ok"), "a replica beyond the partition count is ready"
    consumer.readiness.set("delivery", "delivery halted: the API key is wrong (401)")
    ready, why = consumer.readiness.check()
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


def test_a_value_starting_with_a_utf8_bom_decodes_as_one_json_document() -> None:
    from consumer.transform_runner import decode

    assert decode(b'\xef\xbb\xbf{"type": "order.created"}') == {"type": "order.created"}
    assert isinstance(decode(b'{"a": 1}\xef\xbb\xbf'), Failure)  # only a leading BOM


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    from consumer.transform_runner import decode

    event = decode(b'{"id": 184467440737095516160, "n": -92233720368547758090, "total": 12.5}')
    assert event == {"id": 184467440737095516160, "n": -92233720368547758090, "total": 12.5}
    assert isinstance(event["id"], int)  # type: ignore[index]
    # 19 digits are enough to leave orjson's range when negative (below -2**63).
    assert decode(b'[-9999999999999999999, 18446744073709551615]') == [
        -9999999999999999999, 18446744073709551615]
