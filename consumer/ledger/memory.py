"""The ledger of one process, in memory (consumer.ledger explains the states and their use)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from consumer.ledger import Claim, LedgerUnavailable

__all__ = ["MemoryLedger"]


class _MemoryStore:
    """Both tables keep expiry order (ttl and lease are fixed), so expired keys leave from the front."""

    def __init__(self, max_keys: int, ttl_s: float, lease_s: float, clock: Callable[[], float]):
        self.max_keys, self.ttl_s, self.lease_s, self.clock = max_keys, ttl_s, lease_s, clock
        self.claims: OrderedDict[str, tuple[str, float]] = OrderedDict()  # key → (owner, until)
        self.delivered: OrderedDict[str, float] = OrderedDict()  # key → until, oldest first

    def purge(self, now: float) -> None:
        while self.delivered and next(iter(self.delivered.values())) <= now:
            self.delivered.popitem(last=False)
        while self.claims and next(iter(self.claims.values()))[1] <= now:
            self.claims.popitem(last=False)

    def full(self) -> bool:
        return len(self.claims) + len(self.delivered) >= self.max_keys


class MemoryLedger:
    """One process's ledger, bounded by ``max_keys``: the oldest deliveries are forgotten first.

    ``for_owner()`` gives a second view of the same store under another owner, which is how
    tests play two replicas.
    """

    immediate = True  # no call awaits anything

    def __init__(self, max_keys: int = 1_000_000, ttl_s: float = 7 * 86400, lease_s: float = 60,
                 clock: Callable[[], float] = time.monotonic, *, owner: str = "local",
                 _store: _MemoryStore | None = None):
        self._store = _store or _MemoryStore(max_keys, ttl_s, lease_s, clock)
        self.owner = owner

    def for_owner(self, owner: str) -> MemoryLedger:
        return MemoryLedger(owner=owner, _store=self._store)

    def __len__(self) -> int:
        return len(self._store.claims) + len(self._store.delivered)

    async def claim(self, key: str) -> Claim:
        s = self._store
        now = s.clock()
        s.purge(now)
        if key in s.delivered:
            return Claim.DELIVERED
        held = s.claims.get(key)
        if held is not None and held[0] != self.owner:
            return Claim.BUSY
        if held is None:
            while s.full() and s.delivered:
                s.delivered.popitem(last=False)
            if s.full():  # every slot a live claim: far beyond max_pending_messages, so a leak
                raise LedgerUnavailable(f"memory ledger holds {len(self)} live claims "
                                        f"(max_keys {s.max_keys})", retry_after=s.lease_s)
        s.claims[key] = (self.owner, now + s.lease_s)
        s.claims.move_to_end(key)
        return Claim.CLAIMED

    async def delivered(self, key: str) -> None:
        s = self._store
        now = s.clock()
        s.purge(now)
        s.claims.pop(key, None)
        s.delivered.pop(key, None)
        while s.full():  # never fails: Freshdesk has it already, so this must be remembered
            (s.delivered if s.delivered else s.claims).popitem(last=False)
        s.delivered[key] = now + s.ttl_s

    async def release(self, key: str) -> None:
        s = self._store
        held = s.claims.get(key)
        if held is not None and held[0] == self.owner:
            del s.claims[key]

    async def aclose(self) -> None:
        pass
