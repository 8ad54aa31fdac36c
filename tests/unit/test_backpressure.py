"""consumer.backpressure: room to take, the low-water mark, and when a full loop pauses."""

from consumer.backpressure import Backpressure


def test_room_is_bounded_by_open_work_and_by_what_is_held_behind_it():
    bp = Backpressure(100, held_factor=4)
    assert bp.room(0, 0, now=0) == 100
    assert bp.room(60, 60, now=0) == 40, "open work bounds it"
    assert bp.room(10, 380, now=0) == 20, "done entries held behind a slow one bound it too"


def test_full_until_both_counts_are_back_under_the_low_water_mark():
    bp = Backpressure(100, held_factor=4, low_water=0.5)
    assert bp.room(100, 100, now=1.0) == 0 and bp.full_since == 1.0
    assert bp.room(51, 51, now=1.1) == 0, "not yet at the low-water mark"
    assert bp.room(50, 201, now=1.2) == 0, "open work is, but not what is held"
    assert bp.room(50, 200, now=1.3) == 50 and bp.full_since is None
    assert bp.room(0, 400, now=1.4) == 0, "full again through what is held alone"


def test_a_loop_full_for_pause_after_s_is_overdue_for_a_pause():
    bp = Backpressure(10, pause_after_s=1.0)
    assert not bp.overdue(now=5.0), "not full"
    bp.room(10, 10, now=5.0)
    assert not bp.overdue(now=5.9)
    assert bp.overdue(now=6.0)
    bp.room(0, 0, now=6.1)
    assert not bp.overdue(now=10.0), "taking again"


def test_bytes_held_bound_it_too_until_they_are_back_under_half():
    bp = Backpressure(100, max_bytes=1000)
    assert bp.room(1, 1, now=0, held_bytes=999) == 99, "under the byte bound: by count"
    assert bp.room(1, 1, now=0, held_bytes=1000) == 0, "at the byte bound: full"
    assert bp.room(0, 0, now=0.1, held_bytes=501) == 0, "not yet back under half"
    assert bp.room(0, 0, now=0.2, held_bytes=500) == 100
