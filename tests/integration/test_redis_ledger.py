"""The Redis ledger against a real redis-server: the memory ledger's semantics, shared by replicas,
plus what only a network backend can do (race, go away, come back, hang)."""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid

import pytest
import redis

from consumer.ledger import Claim, LedgerUnavailable, RedisLedger

pytestmark = pytest.mark.integration


def run(coro):
    return asyncio.run(coro)


async def closing(*ledgers: RedisLedger) -> None:
    for led in ledgers:
        await led.aclose()


def test_claim_deliver_skip_and_the_key_scheme(redis_url):
    async def go():
        a = RedisLedger(redis_url, prefix="t:", owner="a")
        b = RedisLedger(redis_url, prefix="t:", owner="b")
        raw = redis.Redis.from_url(redis_url)
        try:
            assert await a.claim("evt_1") is Claim.CLAIMED
            assert raw.get("t:evt_1") == b"claim:a"
            assert 0 < raw.pttl("t:evt_1") <= 60_000
            assert await a.claim("evt_1") is Claim.CLAIMED  # our retry
            assert await b.claim("evt_1") is Claim.BUSY
            await a.delivered("evt_1")
            assert raw.get("t:evt_1") == b"delivered"
            assert 7 * 86400_000 - 5000 < raw.pttl("t:evt_1") <= 7 * 86400_000
            assert await a.claim("evt_1") is Claim.DELIVERED
            assert await b.claim("evt_1") is Claim.DELIVERED
            assert await b.claim("evt_2") is Claim.CLAIMED
        finally:
            raw.close()
            await closing(a, b)
    run(go())


def test_two_replicas_racing_for_200_keys_claim_each_exactly_once(redis_url):
    async def go():
        a = RedisLedger(redis_url, owner="replica-a")
        b = RedisLedger(redis_url, owner="replica-b")
        keys = [f"evt_{i}" for i in range(200)]
        calls = [(a, k) for k in keys] + [(b, k) for k in keys]
        random.Random(7).shuffle(calls)
        try:
            answers = await asyncio.gather(*(led.claim(k) for led, k in calls))
        finally:
            await closing(a, b)
        by_key: dict[str, list[tuple[str, Claim]]] = {}
        for (led, k), answer in zip(calls, answers, strict=True):
            by_key.setdefault(k, []).append((led.owner, answer))
        for k, seen in by_key.items():
            assert sorted(answer.value for _, answer in seen) == ["busy", "claimed"], (k, seen)
        winners = {owner for seen in by_key.values() for owner, a in seen if a is Claim.CLAIMED}
        assert winners == {"replica-a", "replica-b"}, "both replicas should win some keys"
    run(go())


def test_a_crashed_claimers_key_is_claimable_after_its_lease(redis_url):
    async def go():
        crashed = RedisLedger(redis_url, owner="crashed", lease_s=0.3)
        survivor = RedisLedger(redis_url, owner="survivor", lease_s=0.3)
        try:
            assert await crashed.claim("k") is Claim.CLAIMED
            assert await survivor.claim("k") is Claim.BUSY
            await asyncio.sleep(0.4)
            assert await survivor.claim("k") is Claim.CLAIMED
            assert await crashed.claim("k") is Claim.BUSY
        finally:
            await closing(crashed, survivor)
    run(go())


def test_claiming_again_renews_the_lease(redis_url):
    async def go():
        a = RedisLedger(redis_url, owner="a", lease_s=0.4)
        b = RedisLedger(redis_url, owner="b", lease_s=0.4)
        try:
            await a.claim("k")
            for _ in range(3):
                await asyncio.sleep(0.25)
                assert await a.claim("k") is Claim.CLAIMED
            assert await b.claim("k") is Claim.BUSY, "0.75 s after the first claim of a 0.4 s lease"
        finally:
            await closing(a, b)
    run(go())


def test_a_delivery_is_forgotten_after_its_ttl(redis_url):
    async def go():
        led = RedisLedger(redis_url, ttl_s=0.3)
        try:
            await led.claim("k")
            await led.delivered("k")
            assert await led.claim("other") is Claim.CLAIMED
            assert await led.claim("k") is Claim.DELIVERED
            await asyncio.sleep(0.4)
            assert await led.claim("k") is Claim.CLAIMED
        finally:
            await led.aclose()
    run(go())


def test_release_removes_only_our_own_claim_and_never_a_delivery(redis_url):
    async def go():
        a = RedisLedger(redis_url, owner="a")
        b = RedisLedger(redis_url, owner="b")
        try:
            await a.claim("k")
            await b.release("k")
            assert await b.claim("k") is Claim.BUSY
            await a.release("k")
            assert await b.claim("k") is Claim.CLAIMED
            await b.delivered("k")
            await b.release("k")
            assert await a.claim("k") is Claim.DELIVERED
        finally:
            await closing(a, b)
    run(go())


async def _unavailable_within(seconds: float, call) -> LedgerUnavailable:
    start = time.monotonic()
    with pytest.raises(LedgerUnavailable) as info:
        await call()
    took = time.monotonic() - start
    assert took < seconds, f"LedgerUnavailable after {took:.2f}s, limit {seconds}s"
    return info.value


def test_redis_stopped_is_unavailable_quickly_and_works_again_after_a_restart(redis_server,
                                                                            redis_url):
    async def go():
        led = RedisLedger(redis_url, owner="a", timeout_s=1)
        try:
            assert await led.claim("before") is Claim.CLAIMED  # a pooled connection exists now
            redis_server.stop()
            for call in (lambda: led.claim("k"), lambda: led.delivered("k"),
                         lambda: led.release("k")):
                err = await _unavailable_within(2.0, call)
                assert f"127.0.0.1:{redis_server.port}" in str(err)
            redis_server.start()
            # Empty after the restart (no persistence), and every call answers again at once.
            assert await led.claim("k") is Claim.CLAIMED
            await led.delivered("k")
            assert await led.claim("k") is Claim.DELIVERED
        finally:
            redis_server.start()
            await led.aclose()
    run(go())


def test_redis_that_hangs_is_unavailable_within_the_timeout_and_answers_stay_in_step(redis_server,
                                                                                    redis_url):
    async def go():
        led = RedisLedger(redis_url, owner="a", timeout_s=1)
        try:
            assert await led.claim("warm") is Claim.CLAIMED
            redis_server.pause()
            for call in (lambda: led.claim("k"), lambda: led.delivered("k")):
                await _unavailable_within(2.0, call)
            redis_server.resume()
            # A late reply to a timed-out command must never answer the next one.
            await led.delivered("d")
            assert await led.claim("d") is Claim.DELIVERED
            assert await led.claim("fresh") is Claim.CLAIMED
            assert await led.claim("d") is Claim.DELIVERED
        finally:
            redis_server.resume()
            await led.aclose()
    run(go())


def test_a_password_in_the_url_never_shows_in_errors_or_reprs(redis_server, redis_url):
    password = f"pw-{uuid.uuid4().hex}"
    user = f"fdac{uuid.uuid4().hex[:6]}"
    raw = redis.Redis.from_url(redis_url)
    raw.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+@all"])
    raw.close()
    good = f"redis://{user}:{password}@127.0.0.1:{redis_server.port}/0"
    wrong = f"redis://{user}:not-{password}@127.0.0.1:{redis_server.port}/0"
    nowhere = f"redis://{user}:{password}@127.0.0.1:{_closed_port()}/0"

    async def go():
        led = RedisLedger(good, owner="a")
        try:
            assert await led.claim("k") is Claim.CLAIMED  # the password works
            assert password not in repr(led) and password not in led.url
        finally:
            await led.aclose()
        for url in (wrong, nowhere):
            led = RedisLedger(url, owner="a", timeout_s=1)
            try:
                err = await _unavailable_within(2.0, lambda led=led: led.claim("k"))
            finally:
                await led.aclose()
            shown = " ".join([str(err), repr(err), repr(led), str(err.__cause__),
                              str(err.__context__)])
            assert password not in shown, shown
            assert "***" in str(err)
    run(go())


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
