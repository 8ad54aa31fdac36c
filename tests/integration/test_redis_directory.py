"""The Redis directory against a real redis-server: the memory directory's behaviour, shared by
replicas, plus what only a network backend can do (TTL in Redis, go away, come back, hang)."""

from __future__ import annotations

import json
import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.contacts.directory import (
    MAX_DEPTH,
    DirectoryUnavailable,
    MemoryDirectory,
    RedisDirectory,
    load_bootstrap_file,
)
from consumer.contacts.waiting_room import WaitingRoom
from tests.unit.directory_contract import RACHEL, DirectoryContract, email
from tests.unit.test_directory import REFS, FakeClock, _link
from transforms.activity import Contact, Link

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-dir-pw"


class TestRedisDirectory(DirectoryContract):
    @pytest.fixture(autouse=True)
    def _redis(self, redis_url):
        self.url = redis_url
        self.opened: list[RedisDirectory] = []
        yield
        for d in self.opened:
            d.close()

    def directory(self) -> RedisDirectory:
        d = RedisDirectory(self.url, prefix=f"t-{uuid.uuid4().hex[:8]}:")
        self.opened.append(d)
        return d


@pytest.fixture
def replicas(redis_url):
    clock = FakeClock()
    a = RedisDirectory(redis_url, prefix="c:", clock=clock)
    b = RedisDirectory(redis_url, prefix="c:", clock=clock)
    yield a, b, clock
    a.close()
    b.close()


def test_one_replica_learns_and_the_other_resolves(replicas):
    a, b, _ = replicas
    a.learn([Link("stripe:ch_1", alias_of="stripe:cus_1"), email("stripe:cus_1", RACHEL)])
    a.flush()
    assert b.resolve(["stripe:ch_1"]) == Contact(email=RACHEL)
    # and they merge, whoever learns which field
    b.learn([Link("stripe:cus_1", contact=Contact(phone="+15555550100"))])
    b.flush()
    raw = redis.Redis.from_url(a.url)
    try:
        assert raw.hgetall("c:stripe:cus_1") == {b"e": RACHEL.encode(), b"p": b"+15555550100"}
        assert raw.hgetall("c:stripe:ch_1") == {b"a": b"stripe:cus_1"}
    finally:
        raw.close()


def test_learn_sets_the_ttl_and_every_link_re_arms_it(redis_url):
    d = RedisDirectory(redis_url, prefix="c:", ttl_s=1000)
    raw = redis.Redis.from_url(redis_url)
    try:
        d.learn([email("stripe:cus_1", RACHEL)])
        d.flush()
        assert 990_000 < raw.pttl("c:stripe:cus_1") <= 1_000_000
        raw.pexpire("c:stripe:cus_1", 5000)
        d.learn([Link("stripe:cus_1", contact=Contact(phone="+1555"))])
        d.flush()
        assert raw.pttl("c:stripe:cus_1") > 990_000
    finally:
        raw.close()
        d.close()


def test_learn_buffers_until_flush_and_resolve_flushes_first(redis_url):
    d = RedisDirectory(redis_url, prefix="c:")
    raw = redis.Redis.from_url(redis_url)
    try:
        d.learn([email("stripe:cus_1", RACHEL), email("stripe:cus_2", "m@example.com")])
        assert d.round_trips == 0 and raw.exists("c:stripe:cus_1") == 0
        assert d.resolve(["stripe:cus_1"]) == Contact(email=RACHEL)
        assert d.round_trips == 1  # the pipeline; the answer came from its records
        assert raw.exists("c:stripe:cus_1", "c:stripe:cus_2") == 2
    finally:
        raw.close()
        d.close()


def test_at_most_one_round_trip_per_resolve_and_none_on_a_cache_hit(replicas):
    a, b, _ = replicas
    a.learn([Link("stripe:dp_1", alias_of="stripe:ch_1"), Link("stripe:ch_1", alias_of="stripe:cus_1"),
             email("stripe:cus_1", RACHEL)])
    a.flush()
    before = b.round_trips
    assert b.resolve(["stripe:nope", "stripe:dp_1"]) == Contact(email=RACHEL)  # 4 hops, 1 trip
    assert b.round_trips == before + 1
    assert b.resolve(["stripe:dp_1"]) == Contact(email=RACHEL)
    assert b.round_trips == before + 1  # every hop cached
    assert b.resolve(["stripe:unknown"]) is None
    assert b.resolve(["stripe:unknown"]) is None
    assert b.round_trips == before + 3  # unresolved refs are asked each time, never cached


def test_a_ref_not_in_the_cache_is_asked_before_a_later_cached_ref_wins(replicas):
    a, b, _ = replicas
    a.learn([email("stripe:cus_2", "monica@example.com")])
    a.flush()
    assert b.resolve(["stripe:cus_2"]) == Contact(email="monica@example.com")  # cached in b
    a.learn([email("stripe:cus_1", RACHEL)])
    a.flush()
    assert b.resolve(["stripe:cus_1", "stripe:cus_2"]) == Contact(email=RACHEL)


def test_a_cold_replica_walks_a_chain_of_max_depth_in_redis_and_no_further(replicas):
    a, b, _ = replicas
    a.learn([Link(f"x:{i}", alias_of=f"x:{i + 1}") for i in range(MAX_DEPTH)]
            + [email(f"x:{MAX_DEPTH}", RACHEL)])
    a.flush()
    assert b.lookup(["x:0"]) == (None, tuple(f"x:{i}" for i in range(MAX_DEPTH)), ())
    assert b.resolve(["x:1"]) == Contact(email=RACHEL)
    assert b.round_trips == 2


def test_another_replicas_update_shows_after_the_cache_ttl(replicas):
    a, b, clock = replicas
    a.learn([email("stripe:cus_1", "old@example.com")])
    a.flush()
    assert b.resolve(["stripe:cus_1"]) == Contact(email="old@example.com")
    a.learn([email("stripe:cus_1", "new@example.com")])
    a.flush()
    assert a.resolve(["stripe:cus_1"]) == Contact(email="new@example.com")  # its own write: at once
    assert b.resolve(["stripe:cus_1"]) == Contact(email="old@example.com")  # cached
    clock.now += 30
    assert b.resolve(["stripe:cus_1"]) == Contact(email="new@example.com")


def test_a_redis_that_is_down_raises_directory_unavailable_without_the_password(redis_server):
    redis_server.start()
    redis_server.command("CONFIG", "SET", "requirepass", PASSWORD)
    clock = FakeClock()
    url = f"redis://:{PASSWORD}@127.0.0.1:{redis_server.port}/0"
    d = RedisDirectory(url, prefix="c:", clock=clock, timeout_s=0.5)
    try:
        assert PASSWORD not in repr(d)
        d.learn([email("stripe:cus_1", RACHEL)])
        d.flush()
        redis_server.stop()
        d.learn([email("stripe:cus_2", "m@example.com")])
        for call in (d.flush, lambda: d.resolve(["stripe:cus_9"])):
            with pytest.raises(DirectoryUnavailable) as e:
                call()
            assert PASSWORD not in str(e.value) and e.value.retry_after > 0
            assert "127.0.0.1" in str(e.value)
        trips = d.round_trips
        with pytest.raises(DirectoryUnavailable, match="asking again"):
            d.resolve(["stripe:cus_9"])  # within retry_after: fails fast, no network
        assert d.round_trips == trips
        redis_server.start()  # back, empty (no persistence in the fixture), with its password
        redis_server.command("CONFIG", "SET", "requirepass", PASSWORD)
        clock.now += 1
        assert d.resolve(["stripe:cus_2"]) == Contact(email="m@example.com")  # buffered, then sent
        assert d.resolve(["stripe:cus_9"]) is None
    finally:
        d.close()
        redis_server.stop()  # requirepass goes with the process: the next test's server is open
        redis_server.start()


def test_a_redis_that_hangs_answers_directory_unavailable_within_the_timeout(redis_server, redis_url):
    d = RedisDirectory(redis_url, prefix="c:", timeout_s=0.3)
    redis_server.pause()
    try:
        with pytest.raises(DirectoryUnavailable, match="Timeout"):
            d.resolve(["stripe:cus_1"])
    finally:
        redis_server.resume()
        d.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_link, max_size=12), st.lists(st.lists(st.sampled_from(REFS), max_size=3),
                                              min_size=1, max_size=3))
def test_redis_resolves_like_memory(redis_url, links, queries):
    """The Lua walk mirrors the Python one: same answers, same refs visited, for any Links."""
    d = RedisDirectory(redis_url, prefix=f"h-{uuid.uuid4().hex[:8]}:")
    other = RedisDirectory(redis_url, prefix=d.prefix)  # a cold cache: all from Redis
    m = MemoryDirectory()
    try:
        for i in range(0, len(links), 4):  # several batches: merges across flushes
            d.learn(links[i:i + 4])
            d.flush()
            m.learn(links[i:i + 4])
        for refs in queries:
            assert d.lookup(refs) == m.lookup(refs)
            assert other.lookup(refs) == m.lookup(refs)
    finally:
        d.close()
        other.close()


def test_an_event_parked_on_one_replica_is_released_when_another_replica_learns_its_customer(
        replicas):
    a, b, _ = replicas
    a.learn([Link("stripe:ch_1", alias_of="stripe:cus_1")])
    a.flush()
    room: WaitingRoom[str] = WaitingRoom(a, max_waiting=10, wait_s=3600)
    found = a.lookup(["stripe:ch_1"])
    assert found.contact is None
    assert room.park("charge ch_1", ["stripe:ch_1"], watch=found.visited)
    b.learn([email("stripe:cus_1", RACHEL)])  # the customers topic's partition is b's
    b.flush()
    assert room.released_by([]) == []  # a learned nothing itself
    assert room.recheck(10) == [("charge ch_1", Contact(email=RACHEL))]
    assert len(room) == 0


def test_a_bootstrap_file_loaded_by_one_replica_serves_every_replica(replicas, tmp_path):
    a, b, _ = replicas
    path = tmp_path / "customers.jsonl"
    path.write_text("\n".join(
        json.dumps({"ref": f"stripe:cus_{i}", "email": f"c{i}@example.com"}) for i in range(2500)))
    result = load_bootstrap_file(a, path)
    assert (result.lines, result.links) == (2500, 2500)
    assert a.round_trips == 10  # 250 Links a round trip
    assert b.resolve(["stripe:cus_2499"]) == Contact(email="c2499@example.com")


def test_a_value_that_is_not_utf8_is_replaced_not_raised(redis_url):
    raw = redis.Redis.from_url(redis_url)
    d = RedisDirectory(redis_url, prefix="c:")
    try:
        raw.hset("c:stripe:cus_1", mapping={"e": b"r\xe9chel@example.com"})  # Latin-1, by someone
        assert d.resolve(["stripe:cus_1"]) == Contact(email="r\ufffdchel@example.com")
    finally:
        raw.close()
        d.close()
