"""Where an event whose contact is not known yet waits for the Link that names it.

Owned by the poll thread (no locks), like the directory it asks. Items are opaque: whatever the
pipeline needs to deliver the event later (the lead's design produces parked events to a
"waiting" Kafka topic so the source partition can commit; the item is then that record).

How the pipeline uses it, per poll batch:

1. an activity whose ``directory.lookup(refs)`` has no contact: ``park(item, refs, since,
   watch=resolution.visited)``; False means the room is full: the caller decides (pause the
   partition, or dead-letter as ``contact_unresolved`` at once);
2. after ``directory.learn(links)``: ``released_by(links)`` gives the items whose contact now
   resolves, with the contact, in the order they were parked;
3. now and then (say every second): ``recheck(n)`` asks again for the ``n`` items asked longest
   ago. With the Redis backend another replica may learn the Link (the customers topic's
   partitions are spread over replicas), which no local ``released_by`` sees;
4. ``expired(now)``: waited ``wait_s``; dead-letter them as ``contact_unresolved``.

An item is watched under every ref its lookup visited, the missing end of a broken chain
included: parked on ``stripe:ch_1`` when ``ch_1 → cus_1`` is known but ``cus_1`` is not, it wakes
when ``cus_1`` is learned. So ``released_by`` costs O(items watching the refs learned), not
O(waiting). Each candidate costs one directory lookup (a cache hit or one Redis round trip).

``since`` is wall-clock time (the default clock is ``time.time``) so that a parked event read
back after a restart keeps its original deadline.

What may be committed, given that this room lives in memory:

- a parked event's *source* offset only once the event is somewhere that survives a restart (the
  waiting topic, its produce acknowledged); before that, committing past it loses it;
- a message whose Links were learned, only after ``directory.flush()`` returned;
- the waiting topic's own offsets as its items leave the room (delivered, dead-lettered): its
  watermark is held by the oldest item still waiting. After a restart every item still waiting
  is read again and parked again with its ``since`` (carry it in a header), and so are items
  released after the last commit: the ledger skips the ones already delivered, provided the
  idempotency key does not depend on the resolved contact (see ``directory.with_contact``).
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from consumer.contacts.directory import ContactDirectory, Resolution
from transforms.activity import Contact, Link

__all__ = ["WaitingRoom"]

T = TypeVar("T")


@dataclass(slots=True)
class _Parked(Generic[T]):
    item: T
    refs: tuple[str, ...]
    since: float
    watch: tuple[str, ...]


class WaitingRoom(Generic[T]):
    """Events waiting for their contact, bounded by ``max_waiting`` and ``wait_s``; see the
    module docstring. Call ``released_by`` right after learning a message's Links, before
    resolving the next message, so a released event goes out before later events of the same
    customer."""

    def __init__(self, directory: ContactDirectory, *, max_waiting: int, wait_s: float,
                 clock: Callable[[], float] = time.time):
        self.directory, self.max_waiting, self.wait_s, self.clock = (
            directory, max_waiting, wait_s, clock)
        self._parked: dict[int, _Parked[T]] = {}  # seq → parked, in parking order
        self._by_ref: dict[str, set[int]] = {}  # ref → seqs watching it
        self._deadlines: list[tuple[float, int]] = []  # heap of (since + wait_s, seq); lazy delete
        self._recheck: deque[int] = deque()  # seqs, asked longest ago first; lazy delete
        self._seq = 0

    def __len__(self) -> int:
        return len(self._parked)

    def park(self, item: T, refs: Sequence[str], since: float | None = None,
             watch: Sequence[str] | None = None) -> bool:
        """Let ``item`` wait for ``refs`` to resolve. False, and nothing kept, when the room
        holds ``max_waiting`` already. ``watch``: the refs to wake on, normally the failed
        lookup's ``visited`` (left out, the room looks ``refs`` up itself, which with Redis is a
        round trip). May raise DirectoryUnavailable (only when ``watch`` is left out)."""
        if len(self._parked) >= self.max_waiting:
            return False
        if watch is None:
            watch = self.directory.lookup(refs).visited
        self._seq += 1
        seq = self._seq
        since = self.clock() if since is None else since
        self._parked[seq] = _Parked(item, tuple(refs), since, ())
        self._watch(seq, tuple(watch) or tuple(refs))
        heapq.heappush(self._deadlines, (since + self.wait_s, seq))
        self._recheck.append(seq)
        return True

    def released_by(self, links_learned: Iterable[Link]) -> list[tuple[T, Contact]]:
        """The items whose contact resolves now that ``links_learned`` are known (learn them
        first), each with its contact, in parking order; they leave the room."""
        seqs: set[int] = set()
        for link in links_learned:
            seqs.update(self._by_ref.get(link.ref, ()))
        return self._ask(sorted(seqs))

    def recheck(self, max_items: int) -> list[tuple[T, Contact]]:
        """Ask the directory again for up to ``max_items`` items, those asked longest ago
        first; release those that resolve (learned by another replica), in parking order."""
        picked: list[int] = []
        rotated = 0
        while self._recheck and len(picked) < max_items and rotated < len(self._recheck):
            seq = self._recheck.popleft()
            if seq in self._parked:
                picked.append(seq)
                self._recheck.append(seq)
                rotated += 1
        return self._ask(sorted(picked))  # parking order, as released_by

    def expired(self, now: float | None = None) -> list[T]:
        """Items that have waited ``wait_s`` or longer, oldest first; they leave the room."""
        now = self.clock() if now is None else now
        out: list[T] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, seq = heapq.heappop(self._deadlines)
            if seq in self._parked:
                out.append(self._remove(seq).item)
        self._compact()
        return out

    def next_deadline(self) -> float | None:
        """When the next item expires (clock time), or None when the room is empty."""
        while self._deadlines and self._deadlines[0][1] not in self._parked:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def drop(self, predicate: Callable[[T], bool]) -> list[T]:
        """Take out the items ``predicate`` selects (e.g. those of a revoked partition), in
        parking order."""
        dropped = [self._remove(seq).item for seq in
                   [s for s, p in self._parked.items() if predicate(p.item)]]
        self._compact()
        return dropped

    # --- bookkeeping -----------------------------------------------------------------------------

    def _ask(self, seqs: list[int]) -> list[tuple[T, Contact]]:
        # Every lookup first, then every change: a DirectoryUnavailable half-way leaves the room
        # as it was, so no item is taken out without being handed back.
        answers: list[tuple[int, Resolution]] = [
            (seq, self.directory.lookup(self._parked[seq].refs)) for seq in seqs]
        released: list[tuple[T, Contact]] = []
        for seq, found in answers:
            if found.contact is not None:
                released.append((self._remove(seq).item, found.contact))
            else:
                self._watch(seq, found.visited or self._parked[seq].refs)
        self._compact()
        return released

    def _watch(self, seq: int, refs: tuple[str, ...]) -> None:
        parked = self._parked[seq]
        for ref in parked.watch:
            if ref not in refs:
                self._unwatch(ref, seq)
        for ref in refs:
            self._by_ref.setdefault(ref, set()).add(seq)
        parked.watch = refs

    def _unwatch(self, ref: str, seq: int) -> None:
        watchers = self._by_ref.get(ref)
        if watchers is not None:
            watchers.discard(seq)
            if not watchers:
                del self._by_ref[ref]

    def _remove(self, seq: int) -> _Parked[T]:
        parked = self._parked.pop(seq)
        for ref in parked.watch:
            self._unwatch(ref, seq)
        return parked

    def _compact(self) -> None:
        """Drop the lazily deleted entries once they outnumber the live ones (bounded memory)."""
        live = len(self._parked)
        if len(self._deadlines) > 2 * live + 64:
            self._deadlines = [d for d in self._deadlines if d[1] in self._parked]
            heapq.heapify(self._deadlines)
        if len(self._recheck) > 2 * live + 64:
            self._recheck = deque(s for s in self._recheck if s in self._parked)
