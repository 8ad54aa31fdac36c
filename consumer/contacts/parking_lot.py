"""The loop's one handle on events that wait for their contact: park, take_parked, due.

Owned by the poll thread. consumer.contacts.park_record explains the Kafka side (why an event
waits in the group's waiting topic rather than in its source partition); the in-memory side is
consumer.contacts.waiting_room. The loop calls three things:

- :meth:`ParkingLot.park` with a transform's :class:`~consumer.outcomes.Waiting`: a fresh event
  is produced to the waiting topic (its source is settled once the broker has it); a record read
  back from the waiting topic waits in the room, unless it waited ``contacts.wait_s`` already or
  the room is full (then the Failure to dead-letter is returned);
- :meth:`ParkingLot.take_parked` for a record of the waiting topic: the original message is put
  back in the entry (``pending.source``, ``pending.since``), to be transformed again;
- :meth:`ParkingLot.due` once per loop round: flushes what the directory learned and returns the
  entries whose contact is now known (to transform again) and those that waited too long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from consumer.config import ContactSettings
from consumer.contacts.directory import ContactDirectory, DirectoryUnavailable
from consumer.contacts.park_record import park_headers, unpark
from consumer.contacts.waiting_room import WaitingRoom
from consumer.dead_letters.producer import TOO_LARGE, DeadLetterProducer
from consumer.in_flight import InFlight, Pending
from consumer.metrics import Metrics
from consumer.outcomes import Counts, Failure, Waiting
from transforms import Contact, Link

__all__ = ["LearningDirectory", "ParkingLot"]

log = logging.getLogger("consumer.contacts")

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


class ParkingLot:
    def __init__(self, directory: ContactDirectory, settings: ContactSettings, topic: str,
                 producer: DeadLetterProducer, in_flight: InFlight, metrics: Metrics, counts: Counts,
                 dead_letter: Callable[[Pending, Failure], None], max_bytes: int | None = None,
                 clock: Callable[[], float] = time.time):
        self.lookup = LearningDirectory(directory)
        self.topic = topic  # the group's waiting topic
        self.room: WaitingRoom[tuple[Pending, Waiting]] = WaitingRoom(
            directory, max_waiting=settings.max_waiting, wait_s=settings.wait_s, clock=clock)
        self._settings = settings
        self._producer = producer
        self._in_flight = in_flight
        self._metrics = metrics
        self._counts = counts
        self._dead_letter = dead_letter  # for an event too large to wait in the waiting topic
        self._max_bytes = max_bytes  # the waiting room's bytes (half processing.max_pending_bytes)
        self._rewrites: list[tuple[float, Pending, Waiting]] = []  # park records to write again
        self._clock = clock
        self._last_recheck = clock()
        self._unavailable = 0

    def __len__(self) -> int:
        return len(self.room)

    def park(self, pending: Pending, waiting: Waiting) -> Failure | None:
        """Wait for the contact; the Failure to dead-letter when it cannot wait any longer."""
        if pending.since is None:  # a fresh event: out of its source partition, into the topic
            if not self._producer.closed:  # shutdown: stays uncommitted, redelivered
                log.debug("parking %s: %s", pending.message.where(), waiting.describe())
                self._in_flight.writing(pending)
                self._write(pending, waiting)
            return None
        wait_s = self._settings.wait_s
        if self._clock() - pending.since >= wait_s:
            return Failure("contact_unresolved", waiting.describe())
        over = self._max_bytes is not None and \
            self._in_flight.waiting_bytes + pending.size > self._max_bytes
        if over or not self.room.park((pending, waiting), waiting.refs, pending.since,
                                      watch=waiting.refs):
            bound = (f"{self._max_bytes:,} bytes: half processing.max_pending_bytes" if over else
                     f"contacts.max_waiting {self._settings.max_waiting}")
            return Failure("contact_unresolved",
                           f"{waiting.describe()}, and the waiting room is full ({bound})")
        self._in_flight.waiting_for_contact(pending, pending.since)
        return None

    def take_parked(self, pending: Pending) -> Failure | None:
        """A record of the waiting topic: its original back in ``pending``, or why it is not one."""
        parked = unpark(pending.message)
        if isinstance(parked, str):
            return Failure("decode", parked)
        pending.source, pending.since = parked.original, parked.since
        return None

    def due(self) -> tuple[list[Pending], list[tuple[Pending, Failure]]]:
        """(released, expired): entries whose contact may be known now (transform them again),
        and those that waited ``contacts.wait_s`` (dead-letter them)."""
        now = self._clock()
        if self._rewrites:
            self._rewrite(now)
        released = self._released(now)
        why = f"no event named that customer within contacts.wait_s ({self._settings.wait_s:g} s)"
        expired = [(p, Failure("contact_unresolved", f"{waiting.describe()}: {why}"))
                   for p, waiting in self.room.expired(now) if not p.part.forgotten]
        return [p for p, _ in released if not p.part.forgotten], expired

    def _released(self, now: float) -> list[tuple[Pending, Waiting]]:
        """What the directory resolves now: released by the Links learned since the last round,
        or found by the periodic recheck (another replica learned it through Redis)."""
        released: list[tuple[Pending, Waiting]] = []
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
        return released

    def _rewrite(self, now: float) -> None:
        waiting = []
        for due, pending, why in self._rewrites:
            if pending.part.forgotten or self._producer.closed:
                self._in_flight.stop(pending)
            elif due <= now:
                self._write(pending, why)
            else:
                waiting.append((due, pending, why))
        self._rewrites = waiting

    def drop_forgotten(self) -> None:
        """Revoke: the waiting entries of partitions we no longer own (their next owner re-reads)."""
        self.room.drop(lambda item: item[0].part.forgotten)

    def close(self) -> None:
        try:
            self.lookup.directory.flush()
        except DirectoryUnavailable as e:
            log.warning("contact directory: could not write what was learned last (%s)", e)
        self.lookup.directory.close()

    def _write(self, pending: Pending, waiting: Waiting) -> None:
        msg = pending.message
        self._producer.produce(self.topic, msg, park_headers(msg, waiting.refs),
                               on_written=lambda: self._parked(pending),
                               on_error=lambda error: self._write_failed(pending, waiting, error))

    def _parked(self, pending: Pending) -> None:
        self._counts.parked += 1
        self._metrics.parked.labels(pending.message.topic).inc()
        self._in_flight.settle(pending)

    def _write_failed(self, pending: Pending, waiting: Waiting, error: str) -> None:
        if pending.part.forgotten or self._producer.closed:
            self._in_flight.stop(pending)
            return
        if error.startswith(TOO_LARGE):  # it cannot wait there: say so rather than loop
            self._in_flight.stop(pending)
            self._dead_letter(pending, Failure("contact_unresolved", f"{waiting.describe()}, and "
                                               f"the event is too large to wait in {self.topic} "
                                               f"({error})"))
            return
        log.error("could not park %s in %s (%s); trying again in 1s", pending.message.where(),
                  self.topic, error)
        self._rewrites.append((self._clock() + 1.0, pending, waiting))
