"""The memory ledger's semantics (no I/O): claim / deliver / skip, leases, TTL, the size bound."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from consumer._redis import redact_url
from consumer.ledger import Claim, LedgerSettings, LedgerUnavailable, MemoryLedger, RedisLedger, make_ledger


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro):
    return asyncio.run(coro)


def ledger(clock=None, **kw) -> MemoryLedger:
    kw.setdefault("lease_s", 60)
    kw.setdefault("ttl_s", 3600)
    return MemoryLedger(clock=clock or FakeClock(), **kw)


def test_a_delivered_key_is_skipped_and_a_new_key_is_claimed():
    async def go():
        led = ledger()
        assert await led.claim("evt_1") is Claim.CLAIMED
        await led.delivered("evt_1")
        assert await led.claim("evt_1") is Claim.DELIVERED
        assert await led.claim("evt_2") is Claim.CLAIMED
    run(go())


def test_claiming_our_own_claim_again_is_claimed_and_another_owner_is_busy():
    async def go():
        a = ledger()
        b = a.for_owner("replica-b")
        assert await a.claim("k") is Claim.CLAIMED
        assert await a.claim("k") is Claim.CLAIMED  # a retry of ours
        assert await b.claim("k") is Claim.BUSY
        await a.delivered("k")
        assert await b.claim("k") is Claim.DELIVERED
    run(go())


def test_a_crashed_claimers_key_is_claimable_once_its_lease_expires():
    async def go():
        clock = FakeClock()
        a = ledger(clock, lease_s=60)
        b = a.for_owner("b")
        assert await a.claim("k") is Claim.CLAIMED
        clock.now += 59.9
        assert await b.claim("k") is Claim.BUSY
        clock.now += 0.2
        assert await b.claim("k") is Claim.CLAIMED
        assert await a.claim("k") is Claim.BUSY  # a came back too late: b holds it now
    run(go())


def test_claiming_again_renews_the_lease():
    async def go():
        clock = FakeClock()
        a = ledger(clock, lease_s=60)
        b = a.for_owner("b")
        await a.claim("k")
        clock.now += 50
        assert await a.claim("k") is Claim.CLAIMED  # before the next attempt: renews
        clock.now += 50
        assert await b.claim("k") is Claim.BUSY, "100 s after the first claim, 50 after renewal"
    run(go())


def test_a_delivery_is_forgotten_after_its_ttl():
    async def go():
        clock = FakeClock()
        led = ledger(clock, ttl_s=3600)
        await led.claim("k")
        await led.delivered("k")
        clock.now += 3599
        assert await led.claim("k") is Claim.DELIVERED
        clock.now += 2
        assert await led.claim("k") is Claim.CLAIMED
    run(go())


def test_delivered_replaces_the_claim_even_without_one():
    async def go():
        led = ledger()
        await led.delivered("never-claimed")
        assert await led.claim("never-claimed") is Claim.DELIVERED
        assert len(led) == 1
    run(go())


def test_release_gives_back_only_our_own_claim():
    async def go():
        a = ledger()
        b = a.for_owner("b")
        await a.claim("k")
        await b.release("k")  # not b's: nothing happens
        assert await b.claim("k") is Claim.BUSY
        await a.release("k")
        assert await b.claim("k") is Claim.CLAIMED
        await a.release("k")  # b's now
        assert await a.claim("k") is Claim.BUSY
    run(go())


def test_release_does_not_undo_a_delivery():
    async def go():
        led = ledger()
        await led.claim("k")
        await led.delivered("k")
        await led.release("k")
        assert await led.claim("k") is Claim.DELIVERED
    run(go())


def test_the_oldest_deliveries_are_forgotten_first_when_full():
    async def go():
        led = ledger(max_keys=3)
        for k in ("a", "b", "c"):
            await led.claim(k)
            await led.delivered(k)
        assert await led.claim("d") is Claim.CLAIMED  # evicts "a", the oldest delivery
        assert len(led) == 3
        assert await led.claim("b") is Claim.DELIVERED
        assert await led.claim("c") is Claim.DELIVERED
        await led.delivered("d")
        assert len(led) == 3
        assert await led.claim("a") is Claim.CLAIMED  # forgotten; evicts "b"
        assert await led.claim("c") is Claim.DELIVERED
    run(go())


def test_live_claims_are_never_evicted_to_make_room_for_a_claim():
    async def go():
        clock = FakeClock()
        led = ledger(clock, max_keys=2, lease_s=10)
        await led.claim("a")
        await led.claim("b")
        with pytest.raises(LedgerUnavailable, match="live claims"):
            await led.claim("c")
        clock.now += 11  # leases ran out: room again
        assert await led.claim("c") is Claim.CLAIMED
        assert len(led) == 1
    run(go())


def test_size_stays_bounded_under_many_keys():
    async def go():
        led = ledger(max_keys=100)
        for i in range(1000):
            assert await led.claim(f"k{i}") is Claim.CLAIMED
            await led.delivered(f"k{i}")
            assert len(led) <= 100
        assert await led.claim("k999") is Claim.DELIVERED
        assert await led.claim("k0") is Claim.CLAIMED
    run(go())


# --- settings and construction ---------------------------------------------------------------

def test_settings_default_to_the_memory_backend():
    led = make_ledger(LedgerSettings())
    assert isinstance(led, MemoryLedger)


def test_redis_backend_needs_a_redis_url():
    with pytest.raises(ValidationError, match=r"needs ledger\.url"):
        LedgerSettings(backend="redis")
    with pytest.raises(ValidationError, match="must start with redis://"):
        LedgerSettings(backend="redis", url="http://127.0.0.1:6379")
    with pytest.raises(ValidationError, match="only read with backend: redis"):
        LedgerSettings(url="redis://127.0.0.1:6379")
    with pytest.raises(ValidationError, match="extra"):
        LedgerSettings(backend="memory", lease=5)


def test_settings_never_show_the_password():
    s = LedgerSettings(backend="redis", url="redis://fdac:s3cr%40t@redis.internal:6379/0")
    assert "s3cr" not in repr(s) and "s3cr" not in str(s)
    assert s.url_password == "s3cr@t"


def test_make_ledger_builds_a_redis_ledger_without_connecting_and_without_the_password():
    s = LedgerSettings(backend="redis", url="redis://fdac:hunter22@127.0.0.1:1/0", prefix="x:")
    led = make_ledger(s)
    assert isinstance(led, RedisLedger)
    assert "hunter22" not in repr(led)
    assert led.url == "redis://fdac:***@127.0.0.1:1/0"
    assert led.prefix == "x:"


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
    ("redis://u:pw@h/1", "redis://u:***@h/1"),
    ("rediss://u:p%40ss@h:6380", "rediss://u:***@h:6380"),
    ("redis://h:6379/0", "redis://h:6379/0"),
])
def test_redact_url_hides_only_the_password(url, shown):
    assert redact_url(url) == shown
