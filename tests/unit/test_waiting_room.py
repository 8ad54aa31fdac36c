"""The waiting room (no I/O): parked events leave when their contact is learned, when they have
waited wait_s, or when dropped; never twice, never lost; the cost follows the refs touched."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.contacts.directory import DirectoryUnavailable, MemoryDirectory, Resolution
from consumer.contacts.waiting_room import WaitingRoom
from tests.unit.directory_contract import RACHEL, email
from tests.unit.test_directory import FakeClock
from transforms.activity import Contact, Link


class Counting:
    """A directory that counts lookups and can be told to fail from the n-th one on."""

    def __init__(self, inner: MemoryDirectory, fail_from: int | None = None):
        self.inner, self.lookups, self.fail_from = inner, 0, fail_from

    def learn(self, links):
        self.inner.learn(links)

    def flush(self):
        pass

    def resolve(self, refs: Sequence[str]) -> Contact | None:
        return self.lookup(refs).contact

    def lookup(self, refs: Sequence[str]) -> Resolution:
        self.lookups += 1
        if self.fail_from is not None and self.lookups >= self.fail_from:
            raise DirectoryUnavailable("redis went away")
        return self.inner.lookup(refs)

    def close(self):
        pass


def room(max_waiting=100, wait_s=3600.0, directory=None):
    clock = FakeClock()
    d = directory or Counting(MemoryDirectory())
    return WaitingRoom(d, max_waiting=max_waiting, wait_s=wait_s, clock=clock), d, clock


def test_an_item_leaves_with_its_contact_when_its_ref_is_learned():
    r, d, _ = room()
    assert r.park("charge", ["stripe:cus_1"])
    assert r.released_by([]) == [] and len(r) == 1
    link = email("stripe:cus_1", RACHEL)
    d.learn([link])
    assert r.released_by([link]) == [("charge", Contact(email=RACHEL))]
    assert len(r) == 0 and r.released_by([link]) == []


def test_an_item_waiting_on_a_broken_chain_wakes_when_its_missing_end_is_learned():
    r, d, _ = room()
    d.learn([Link("stripe:dp_1", alias_of="stripe:ch_1")])
    watch = d.lookup(["stripe:dp_1"]).visited
    assert r.park("dispute", ["stripe:dp_1"], watch=watch)
    # the next hop arrives: still unknown at its end, and now watched there too
    hop = Link("stripe:ch_1", alias_of="stripe:cus_1")
    d.learn([hop])
    assert r.released_by([hop]) == []
    end = email("stripe:cus_1", RACHEL)
    d.learn([end])
    assert r.released_by([end]) == [("dispute", Contact(email=RACHEL))]


def test_park_without_watch_looks_the_refs_up_itself():
    r, d, _ = room()
    d.learn([Link("stripe:ch_1", alias_of="stripe:cus_1")])
    assert r.park("charge", ["stripe:ch_1"])
    end = email("stripe:cus_1", RACHEL)
    d.learn([end])
    assert r.released_by([end]) == [("charge", Contact(email=RACHEL))]


def test_released_items_come_out_in_parking_order():
    r, d, _ = room()
    for i, ref in enumerate(["x:b", "x:a", "x:b", "x:a"]):
        r.park(i, [ref])
    links = [email("x:a", "a@example.com"), email("x:b", "b@example.com")]
    d.learn(links)
    assert [item for item, _ in r.released_by(links)] == [0, 1, 2, 3]


def test_released_by_asks_only_about_items_watching_the_refs_learned():
    r, d, _ = room(max_waiting=10_000)
    for i in range(5000):
        r.park(i, [f"stripe:cus_{i}"], watch=[f"stripe:cus_{i}"])
    d.lookups = 0
    link = email("stripe:cus_4321", RACHEL)
    d.learn([link])
    assert r.released_by([link, email("stripe:cus_unknown", "u@example.com")]) == \
        [(4321, Contact(email=RACHEL))]
    assert d.lookups == 1


def test_a_full_room_refuses_and_keeps_nothing():
    r, _, _ = room(max_waiting=2)
    assert r.park("a", ["x:a"]) and r.park("b", ["x:b"])
    assert r.park("c", ["x:c"]) is False
    assert len(r) == 2
    assert r.drop(lambda item: True) == ["a", "b"]


def test_items_expire_after_wait_s_oldest_first_and_keep_their_original_since():
    r, _, clock = room(wait_s=100)
    r.park("new", ["x:a"])  # since = now
    r.park("from before a restart", ["x:b"], since=clock.now - 250)  # read back from the topic
    r.park("older still", ["x:c"], since=clock.now - 300)
    assert r.next_deadline() == clock.now - 200
    assert r.expired() == ["older still", "from before a restart"]
    clock.now += 99.9
    assert r.expired() == []
    assert r.expired(clock.now + 0.1) == ["new"]
    assert len(r) == 0 and r.next_deadline() is None


def test_an_item_released_or_dropped_never_expires_later():
    r, d, clock = room(wait_s=10)
    r.park("released", ["x:a"])
    r.park("dropped", ["x:b"])
    r.park("expires", ["x:c"])
    link = email("x:a", RACHEL)
    d.learn([link])
    r.released_by([link])
    r.drop(lambda item: item == "dropped")
    clock.now += 10
    assert r.expired() == ["expires"]


def test_recheck_releases_what_another_replica_learned_asking_the_least_recently_asked_first():
    shared = MemoryDirectory()  # both replicas' view, as a shared Redis would be
    r, d, _ = room(directory=Counting(shared))
    for item in ("a", "b", "c"):
        r.park(item, [f"x:{item}"])
    d.lookups = 0
    assert r.recheck(2) == [] and d.lookups == 2  # a, b
    shared.learn([email("x:a", "a@example.com"), email("x:c", "c@example.com")])
    # the other replica's Links never reach this room's released_by
    assert r.recheck(2) == [("a", Contact(email="a@example.com")),  # c and a were due
                            ("c", Contact(email="c@example.com"))]
    assert r.recheck(10) == [] and d.lookups == 5  # only b is left
    assert len(r) == 1


def test_a_directory_that_fails_half_way_leaves_the_room_as_it_was():
    inner = MemoryDirectory()
    d = Counting(inner)
    r, _, _ = room(directory=d)
    r.park("a", ["x:a"], watch=["x:a"])
    r.park("b", ["x:a"], watch=["x:a"])
    link = email("x:a", RACHEL)
    inner.learn([link])
    d.fail_from = d.lookups + 2  # the first lookup answers, the second fails
    with pytest.raises(DirectoryUnavailable):
        r.released_by([link])
    assert len(r) == 2
    d.fail_from = None
    assert [item for item, _ in r.released_by([link])] == ["a", "b"]


def test_drop_takes_out_the_items_of_a_revoked_partition():
    r, d, _ = room()
    for p, o in [(0, 1), (1, 1), (0, 2)]:
        r.park((p, o), ["x:a"])
    assert r.drop(lambda item: item[0] == 0) == [(0, 1), (0, 2)]
    link = email("x:a", RACHEL)
    d.learn([link])
    assert r.released_by([link]) == [((1, 1), Contact(email=RACHEL))]


def test_bookkeeping_stays_bounded_by_what_waits():
    r, d, _ = room(max_waiting=10, wait_s=5)
    for i in range(5000):
        r.park(i, [f"x:{i}"])
        link = email(f"x:{i}", "a@example.com")
        d.learn([link])
        assert r.released_by([link]) == [(i, Contact(email="a@example.com"))]
        r.recheck(1)
    assert len(r) == 0
    assert len(r._deadlines) <= 64 + 1 and len(r._recheck) <= 64 + 1 and not r._by_ref


# --- nothing lost, nothing handed out twice ------------------------------------------------------

_step = st.one_of(
    st.tuples(st.just("park"), st.sampled_from(["x:a", "x:b", "x:c"])),
    st.tuples(st.just("learn"), st.sampled_from(["x:a", "x:b", "x:c"])),
    st.tuples(st.just("alias"), st.sampled_from(["x:a", "x:b", "x:c"])),
    st.tuples(st.just("tick"), st.floats(0, 40)),
    st.tuples(st.just("recheck"), st.integers(0, 3)),
    st.tuples(st.just("drop"), st.integers(0, 5)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, max_size=40))
def test_every_parked_item_leaves_at_most_once_and_the_rest_are_still_waiting(steps):
    r, d, clock = room(max_waiting=8, wait_s=60)
    parked: list[int] = []
    out: list[int] = []
    for kind, arg in steps:
        if kind == "park":
            n = len(parked)
            if r.park(n, [arg]):
                parked.append(n)
        elif kind in ("learn", "alias"):
            link = (email(arg, "c@example.com") if kind == "learn"
                    else Link(arg, alias_of="x:z"))
            d.learn([link])
            out += [item for item, _ in r.released_by([link])]
        elif kind == "tick":
            clock.now += arg
            out += r.expired()
        elif kind == "recheck":
            out += [item for item, _ in r.recheck(arg)]
        else:
            out += r.drop(lambda item, k=arg: item % 6 == k)
        assert len(r) == len(parked) - len(out)
    assert len(out) == len(set(out))
    remaining = r.drop(lambda item: True)
    assert sorted(out + remaining) == parked
