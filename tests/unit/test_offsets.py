from consumer.offsets import CommitPolicy, OffsetBook, PartitionOffsets


def test_watermark_waits_for_every_earlier_offset():
    part = PartitionOffsets()
    for offset in (10, 11, 12, 13):
        part.take(offset)
    part.done(12)
    assert part.watermark is None, "12 is done but 10 and 11 are not"
    part.done(10)
    assert part.watermark == 11, "commit the next offset to read: last contiguous done + 1"
    part.done(13)
    assert part.watermark == 11
    part.done(11)
    assert part.watermark == 14 and part.pending == 0


def test_offsets_with_gaps_from_compaction_or_transactions_still_advance():
    part = PartitionOffsets()
    for offset in (3, 7, 42):
        part.take(offset)
    part.done(7)
    part.done(3)
    assert part.watermark == 8
    part.done(42)
    assert part.watermark == 43


def test_book_commits_only_moved_watermarks_of_the_partitions_asked():
    book = OffsetBook()
    a, b = ("orders", 0), ("orders", 1)
    book.assign(a)
    book.assign(b)
    book.take(a, 0)
    book.take(b, 0)
    book.done(a, 0)
    assert book.to_commit() == {a: 1}
    assert book.to_commit(only={b}) == {}
    book.mark_committed({a: 1})
    assert book.to_commit() == {} and book.settled_since_commit == 0
    book.done(b, 0)
    assert book.to_commit() == {b: 1}


def test_settlement_for_a_revoked_partition_is_ignored():
    book = OffsetBook()
    tp = ("orders", 0)
    book.assign(tp)
    book.take(tp, 5)
    book.forget(tp)
    book.done(tp, 5)
    assert book.to_commit() == {} and book.pending() == 0


def test_commit_policy_by_time_or_count_and_never_when_idle():
    policy = CommitPolicy(interval_s=1.0, every_messages=100)
    assert not policy.due(now=10.0, last_commit=0.0, settled_since=0)
    assert policy.due(now=10.0, last_commit=9.5, settled_since=100)
    assert not policy.due(now=10.0, last_commit=9.5, settled_since=99)
    assert policy.due(now=10.6, last_commit=9.5, settled_since=1)


def test_lag_starts_at_the_oldest_unsettled_offset_even_before_anything_settled():
    part = PartitionOffsets()
    assert part.next_unsettled is None, "nothing known: the lag helper counts from the low mark"
    for offset in (40, 41, 42):
        part.take(offset)
    assert part.next_unsettled == 40, "a halted consumer that settled nothing still shows its lag"
    part.done(40)
    part.done(42)
    assert part.next_unsettled == 41
    part.done(41)
    assert part.next_unsettled == 43 == part.watermark
