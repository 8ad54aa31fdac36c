"""A dict of Records bounded by count and age: the memory backend's store and the Redis cache."""

from __future__ import annotations

from collections import OrderedDict

from consumer.contacts.directory._record import Record


class ExpiringRecords:
    """Every put moves its ref to the end with the same ``ttl_s``, so the dict is in expiry
    order: expired refs and, when full, the oldest-put ones leave from the front, O(1) amortised.
    Not thread-safe: its directory's thread owns it."""

    def __init__(self, max_entries: int, ttl_s: float):
        self.max_entries, self.ttl_s = max_entries, ttl_s
        self._items: OrderedDict[str, tuple[Record, float]] = OrderedDict()  # ref → (rec, until)
        self.evicted = 0  # refs dropped for room before their TTL

    def __len__(self) -> int:
        return len(self._items)

    def get(self, ref: str, now: float) -> Record | None:
        item = self._items.get(ref)
        return item[0] if item is not None and item[1] > now else None

    def put(self, ref: str, rec: Record, now: float) -> None:
        items = self._items
        self.purge(now)
        items.pop(ref, None)
        items[ref] = (rec, now + self.ttl_s)
        while len(items) > self.max_entries:
            items.popitem(last=False)
            self.evicted += 1

    def discard(self, ref: str) -> None:
        self._items.pop(ref, None)

    def purge(self, now: float) -> None:
        items = self._items
        while items and next(iter(items.values()))[1] <= now:
            items.popitem(last=False)
