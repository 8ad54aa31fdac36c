"""What is in flight: per-partition queues whose done heads give the commit watermark."""

from consumer.commit_policy import CommitPolicy
from consumer.in_flight import InFlight
from consumer.message import Message


def msg(offset: int, partition: int = 0) -> Message:
    return Message("orders", partition, offset, None, b"{}", (), None)


def test_watermark_waits_for_every_earlier_offset():
    book = InFlight()
    entries = {o: book.take(msg(o)) for o in (10, 11, 12, 13)}
    part = book.parts[("orders", 0)]
    book.settle(entries[12])
    book.advance()
    assert part.watermark is None, "12 is done but 10 and 11 are not"
    book.settle(entries[10])
    book.advance()
    assert part.watermark == 11, "commit the next offset to read: last contiguous done + 1"
    book.settle(entries[13])
    book.advance()
    assert part.watermark == 11
    book.settle(entries[11])
    book.advance()
    assert part.watermark == 14 and book.pending == 0


def test_offsets_with_gaps_from_compaction_or_transactions_still_advance():
    book = InFlight()
    entries = {o: book.take(msg(o)) for o in (3, 7, 42)}
    for o in (7, 3):
        book.settle(entries[o])
    book.advance()
    assert book.parts[("orders", 0)].watermark == 8
    book.settle(entries[42])
    book.advance()
    assert book.parts[("orders", 0)].watermark == 43


def test_commits_only_moved_watermarks_of_the_partitions_asked():
    book = InFlight()
    a, b = ("orders", 0), ("orders", 1)
    book.assign(a)
    book.assign(b)
    ea, eb = book.take(msg(0, 0)), book.take(msg(0, 1))
    book.settle(ea)
    book.advance()
    assert book.to_commit() == {a: 1}
    assert book.to_commit(only={b}) == {}
    book.mark_committed({a: 1})
    assert book.to_commit() == {} and book.settled_since_commit == 0
    book.settle(eb)
    book.advance()
    assert book.to_commit() == {b: 1}


def test_a_late_result_for_a_forgotten_partition_is_ignored_even_after_reassignment():
    book = InFlight()
    tp = ("orders", 0)
    book.assign(tp)
    old = book.take(msg(5))
    assert book.forget(tp) == [old], "forget hands back what was not done (to abandon)"
    book.assign(tp)  # the partition comes back to us
    new = book.take(msg(5))
    book.settle(old)  # the old assignment's job finishes late
    book.advance()
    assert book.to_commit() == {}, "only the new assignment's entries may move the watermark"
    book.settle(new)
    book.advance()
    assert book.to_commit() == {tp: 6}


def test_pending_counts_every_entry_until_it_is_behind_the_watermark():
    book = InFlight()
    first, second = book.take(msg(0)), book.take(msg(1))
    book.settle(second)
    book.advance()
    assert book.pending == 2, "done but blocked by offset 0: still held"
    book.settle(first)
    book.advance()
    assert book.pending == 0 and book.settled_since_commit == 2


def test_commit_policy_by_time_or_count():
    policy = CommitPolicy(interval_s=1.0, every_messages=100)
    assert not policy.due(now=10.0, last_commit=9.5, settled_since=0)
    assert not policy.due(now=10.0, last_commit=9.5, settled_since=5)
    assert policy.due(now=10.6, last_commit=9.5, settled_since=5)
    assert policy.due(now=9.6, last_commit=9.5, settled_since=100)


def test_lag_starts_at_the_oldest_unsettled_offset_even_before_anything_settled():
    book = InFlight()
    tp = ("orders", 0)
    book.assign(tp)
    part = book.parts[tp]
    assert part.next_unsettled is None, "nothing known: the lag helper counts from the low mark"
    entries = {o: book.take(msg(o)) for o in (40, 41, 42)}
    assert part.next_unsettled == 40, "a halted consumer that settled nothing still shows its lag"
    book.settle(entries[40])
    book.settle(entries[42])
    book.advance()
    assert part.next_unsettled == 41
    book.settle(entries[41])
    book.advance()
    assert part.next_unsettled == 43 == part.watermark


def test_open_counts_entries_not_done_apart_from_those_held_behind_the_watermark():
    book = InFlight()
    p0 = {o: book.take(msg(o)) for o in (0, 1, 2)}
    p1 = {o: book.take(msg(o, partition=1)) for o in (0, 1)}
    book.settle(p0[1])
    book.settle(p0[2])
    book.settle(p0[2])  # a second settle of one entry changes nothing
    book.advance()
    assert (book.open, book.pending) == (3, 5), "p0's 1 and 2 are done but wait behind 0"
    assert book.forget(("orders", 1)) == [p1[0], p1[1]]
    assert (book.open, book.pending) == (1, 3)
    book.settle(p1[0])  # a late result of the revoked partition counts nowhere
    book.settle(p0[0])
    book.advance()
    assert (book.open, book.pending) == (0, 0)


def test_bytes_held_follow_every_way_an_entry_leaves():
    book = InFlight()
    big = Message("orders", 0, 0, b"k", b"x" * 1000, (), None)
    first, second = book.take(big), book.take(Message("orders", 0, 1, None, b"y" * 10, (), None))
    assert book.bytes == 1001 + 10
    book.waiting_for_contact(second, 0.0)
    assert (book.waiting, book.waiting_bytes) == (1, 10)
    book.settle(second)
    assert (book.waiting, book.waiting_bytes, book.bytes) == (0, 0, 1011), "held behind 0"
    book.settle(first)
    book.advance()
    assert book.bytes == 0
    third = book.take(Message("orders", 0, 2, None, b"z" * 50, (), None))
    assert book.put_back(third) and book.bytes == 0
    book.take(Message("orders", 1, 0, None, b"w" * 7, (), None))
    book.forget(("orders", 1))
    assert book.bytes == 0 and book.pending == 0
