"""The dead-letter breaker (no I/O): trips on a run of dead letters or a bad ratio, per topic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from consumer.config import BreakerSettings
from consumer.dead_letters.breaker import DeadLetterBreaker, TopicBreakers


def breaker(**kw) -> DeadLetterBreaker:
    return DeadLetterBreaker(BreakerSettings(**kw))


def feed(b: DeadLetterBreaker, pattern: str, times: int = 1) -> None:
    """'D' a dead letter, '.' a delivered or filtered message."""
    for _ in range(times):
        for c in pattern:
            b.record(c == "D")


def test_more_dead_letters_in_a_row_than_the_limit_trip_it():
    b = breaker(max_consecutive=100, max_ratio=1.0)
    feed(b, "D", 100)
    assert b.tripped is None, "100 in a row is within the limit"
    feed(b, "D")
    assert b.tripped == "101 dead letters in a row (limit 100)"


def test_a_healthy_message_breaks_the_run():
    b = breaker(max_consecutive=5, max_ratio=1.0)
    feed(b, "DDDDD.", 50)
    assert b.tripped is None
    assert b.consecutive == 0


def test_the_ratio_trips_only_once_min_messages_have_settled():
    b = breaker(max_consecutive=1000, max_ratio=0.5, window=100, min_messages=20)
    feed(b, "DD.", 6)  # 18 settled, 12 dead: 67 %, but too few to judge
    assert b.tripped is None
    feed(b, "DD")  # 20 settled, 14 dead: 70 %
    assert b.tripped == "14 of the last 20 messages dead-lettered (70%, limit 50%)"


def test_a_ratio_at_the_limit_does_not_trip():
    b = breaker(max_consecutive=1000, max_ratio=0.5, window=100, min_messages=10)
    feed(b, ".D", 200)  # never more than half, at any point
    assert b.tripped is None
    assert b.ratio == 0.5


def test_the_ratio_is_over_the_latest_window_only():
    b = breaker(max_consecutive=1000, max_ratio=0.5, window=100, min_messages=100)
    feed(b, "D", 40)
    feed(b, ".", 60)  # window: 40 % dead
    assert b.tripped is None
    feed(b, "D", 40)  # the 40 old dead letters slid out; window holds 60 ok + 40 new dead
    assert b.tripped is None
    assert b.ratio == 0.4
    feed(b, "D", 11)  # 51 dead of 100
    assert b.tripped is not None and b.tripped.startswith("51 of the last 100")


def test_once_tripped_it_stays_tripped_until_reset():
    b = breaker(max_consecutive=3, max_ratio=1.0)
    feed(b, "DDDD")
    reason = b.tripped
    assert reason is not None
    feed(b, ".", 1000)
    assert b.tripped == reason, "recovery must be an operator's decision"
    b.reset()
    assert b.tripped is None and b.consecutive == 0 and b.ratio == 0.0
    feed(b, "DDD")
    assert b.tripped is None, "counting starts again from zero after a reset"


def test_max_ratio_one_turns_the_ratio_check_off():
    b = breaker(max_consecutive=10_000, max_ratio=1.0, window=10, min_messages=1)
    feed(b, "D", 5000)
    assert b.tripped is None


def test_settings_reject_a_min_messages_larger_than_the_window():
    with pytest.raises(ValidationError, match="must not exceed window"):
        BreakerSettings(window=50, min_messages=100)
    with pytest.raises(ValidationError):
        BreakerSettings(max_ratio=0)
    with pytest.raises(ValidationError, match="extra"):
        BreakerSettings(max_in_a_row=3)


def test_defaults():
    s = BreakerSettings()
    assert (s.max_consecutive, s.max_ratio, s.window, s.min_messages) == (100, 0.5, 1000, 100)


def test_one_topics_bad_deploy_does_not_trip_another_topic():
    topics = TopicBreakers(BreakerSettings(max_consecutive=10, max_ratio=1.0))
    for _ in range(50):
        topics.record("payments", False)
        topics.record("orders", True)
    assert topics.tripped("orders") == "11 dead letters in a row (limit 10)"
    assert topics.tripped("payments") is None
    assert topics.tripped("never-seen") is None
    assert topics.tripped_topics == {"orders": "11 dead letters in a row (limit 10)"}


def test_interleaved_topics_keep_separate_runs():
    topics = TopicBreakers(BreakerSettings(max_consecutive=3, max_ratio=1.0))
    # Alternating healthy and dead across topics: in one shared counter there would never be
    # a run, per topic "orders" has 10 in a row.
    for _ in range(10):
        assert topics.record("payments", False) is None
        topics.record("orders", True)
    assert topics.tripped("orders") is not None


def test_reset_of_one_topic_leaves_the_others_tripped():
    topics = TopicBreakers(BreakerSettings(max_consecutive=1, max_ratio=1.0))
    for t in ("a", "b"):
        topics.record(t, True)
        topics.record(t, True)
    topics.reset("a")
    assert set(topics.tripped_topics) == {"b"}
    topics.reset()
    assert topics.tripped_topics == {}


@given(st.lists(st.booleans(), max_size=400), st.integers(1, 50), st.integers(1, 50))
def test_the_ratio_matches_a_recount_of_the_window(outcomes, window, min_messages):
    min_messages = min(min_messages, window)
    b = breaker(max_consecutive=10_000, max_ratio=0.5, window=window, min_messages=min_messages)
    tripped_at = None
    for i, dead in enumerate(outcomes):
        b.record(dead)
        recent = outcomes[max(0, i + 1 - window): i + 1]
        assert b.ratio == pytest.approx(sum(recent) / len(recent))
        if tripped_at is None and len(recent) >= min_messages and sum(recent) > 0.5 * len(recent):
            tripped_at = i
        assert (b.tripped is not None) == (tripped_at is not None), (i, recent)
