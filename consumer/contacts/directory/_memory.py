"""The directory in this process's memory, for one replica (the default backend)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from consumer.contacts.directory._expiring import ExpiringRecords
from consumer.contacts.directory._record import Resolution, record_of, walk
from transforms.activity import Contact, Link


class MemoryDirectory:
    """Bounded by ``max_entries`` (the ref learned longest ago goes first) and ``ttl_s`` (counted
    from the last Link that named the ref). Forgotten on restart: replay the customers topic or
    the bootstrap file. Owned by the poll thread: no locks."""

    def __init__(self, max_entries: int = 500_000, ttl_s: float = 180 * 86400,
                 clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._store = ExpiringRecords(max_entries, ttl_s)

    def __len__(self) -> int:
        return len(self._store)

    @property
    def evicted(self) -> int:
        """Refs dropped for room before their TTL: if it grows, raise ``contacts.max_entries``."""
        return self._store.evicted

    def learn(self, links: Iterable[Link]) -> None:
        store, now = self._store, self.clock()
        for link in links:
            rec = record_of(link)
            if rec is None:
                continue
            old = store.get(link.ref, now)
            store.put(link.ref, rec if old is None else old.merged(rec), now)

    def flush(self) -> None:
        """Nothing is buffered in memory; here so the pipeline treats both backends alike."""

    def resolve(self, refs: Sequence[str]) -> Contact | None:
        return self.lookup(refs).contact

    def lookup(self, refs: Sequence[str]) -> Resolution:
        store, now = self._store, self.clock()
        return walk(refs, lambda ref: store.get(ref, now))

    def close(self) -> None:
        pass
