"""The poll thread's side of contact resolution: the directory, what it learned this batch, and
the waiting room of parked events (consumer.contacts.park_record explains the Kafka side).

Owned by the poll thread alone. Per loop iteration the pipeline calls :meth:`ContactWaits.due`,
which flushes what the directory learned, and returns the parked events whose contact is now
known (released by a Link learned here, or found by a periodic recheck when another replica
learned it through the shared Redis directory) and those that waited ``contacts.wait_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from consumer.config import ContactSettings
from consumer.contacts.directory import ContactDirectory, DirectoryUnavailable
from consumer.contacts.waiting_room import WaitingRoom
from transforms import Contact, Link

__all__ = ["ContactWaits", "LearningDirectory"]

log = logging.getLogger("consumer.contacts")

T = TypeVar("T")
_RECHECK_INTERVAL_S = 1.0  # ask again for waiting events another replica may have resolved
_RECHECK_BATCH = 200  # ... this many per round (each a cache hit or one Redis round trip)


class LearningDirectory:
    """The directory as the transform runner sees it, noting the Links learned since last asked."""

    def __init__(self, directory: ContactDirectory):
        self.directory = directory
        self.learned: list[Link] = []

    def learn(self, links: Sequence[Link]) -> None:
        self.directory.learn(links)
        self.learned.extend(links)

    def resolve(self, refs: Sequence[str]) -> Contact | None:
        return self.directory.resolve(refs)


class ContactWaits(Generic[T]):
    def __init__(self, directory: ContactDirectory, settings: ContactSettings,
                 clock: Callable[[], float] = time.time):
        self.lookup = LearningDirectory(directory)
        self.room: WaitingRoom[T] = WaitingRoom(directory, max_waiting=settings.max_waiting,
                                                wait_s=settings.wait_s, clock=clock)
        self._clock = clock
        self._last_recheck = clock()
        self._unavailable = 0

    def __len__(self) -> int:
        return len(self.room)

    def wait(self, item: T, refs: Sequence[str], since: float) -> bool:
        """Park ``item`` until one of ``refs`` resolves; False when the room is full."""
        return self.room.park(item, refs, since, watch=refs)

    def due(self) -> tuple[list[T], list[T]]:
        """(released, expired): what may be delivered now, and what waited too long."""
        released: list[T] = []
        now = self._clock()
        learned, self.lookup.learned = self.lookup.learned, []
        try:
            self.lookup.directory.flush()
            if learned and len(self.room):
                released += [item for item, _ in self.room.released_by(learned)]
            if len(self.room) and now - self._last_recheck >= _RECHECK_INTERVAL_S:
                self._last_recheck = now
                released += [item for item, _ in self.room.recheck(_RECHECK_BATCH)]
            if self._unavailable:
                log.warning("contact directory answers again")
                self._unavailable = 0
        except DirectoryUnavailable as e:
            self._unavailable += 1
            if self._unavailable == 1 or self._unavailable % 100 == 0:
                log.warning("contact directory unavailable (%s); waiting events wait longer", e)
            self.lookup.learned = learned + self.lookup.learned  # released on the next round
        return released, self.room.expired(now)

    def drop(self, predicate: Callable[[T], bool]) -> list[T]:
        """Revoke: the waiting items of partitions we no longer own."""
        return self.room.drop(predicate)

    def close(self) -> None:
        try:
            self.lookup.directory.flush()
        except DirectoryUnavailable as e:
            log.warning("contact directory: could not write what was learned last (%s)", e)
        self.lookup.directory.close()
