"""Partitions that wait for a system their messages need (the schema registry), not for work.

A message whose schema the registry cannot give now (refused, timed out, 5xx) is not at fault:
nothing is dead-lettered for it. Its partition waits instead, and so does everything after it
there, in order:

- the message is put back: taken out of what is in flight (it is the newest entry of its
  partition), the consumer seeks the partition back to its offset and pauses it;
- after a capped exponential backoff with jitter (1 s, 2 s, 4 s … 30 s) the partition resumes and
  the message is read again; the first one that decodes ends the wait;
- an entry that is not its partition's newest (a waiting event released by the directory) keeps
  its place, and is transformed again when the hold ends.

Owned by the poll thread. Readiness and the ``partitions_held`` gauge say what waits and why.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import TopicPartition

from consumer.in_flight import InFlight, Pending
from consumer.metrics import Metrics
from consumer.outcomes import Unavailable
from consumer.pauses import Pauses
from consumer.readiness import Readiness

__all__ = ["PartitionHolds"]

log = logging.getLogger("consumer.loop")

TP = tuple[str, int]
_FIRST_S, _MAX_S = 1.0, 30.0


class PartitionHolds:
    def __init__(self, consumer: Callable[[], Any], pauses: Pauses, in_flight: InFlight,
                 metrics: Metrics, readiness: Readiness, clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] = random.random):
        self._consumer = consumer  # the Kafka consumer (made after us): it seeks
        self._pauses = pauses
        self._in_flight, self._metrics, self._readiness = in_flight, metrics, readiness
        self._clock, self._rand = clock, rand
        self._until: dict[TP, float] = {}  # held partitions: when to try again
        self._from: dict[TP, int] = {}  # ... and the offset they were put back to
        self._tries: dict[TP, int] = {}  # holds in a row without a message decoding since
        self._kept: dict[TP, list[Pending]] = {}  # entries that kept their place meanwhile
        self._what: dict[str, str] = {}  # what is unavailable → the last error

    def __bool__(self) -> bool:
        return bool(self._until)

    @property
    def held(self) -> set[TP]:
        return set(self._until)

    @property
    def recovering(self) -> bool:
        """Something was unavailable and no message of its partitions has decoded since."""
        return bool(self._tries)

    def skips(self, tp: TP, offset: int) -> bool:
        """A message fetched after its partition was put back (this batch): read again later."""
        start = self._from.get(tp)
        return start is not None and offset >= start

    def hold(self, pending: Pending, unavailable: Unavailable) -> None:
        tp = pending.message.tp
        tries = self._tries[tp] = self._tries.get(tp, 0) + 1
        wait = min(_MAX_S, _FIRST_S * 2 ** (tries - 1)) * (0.5 + self._rand() / 2)
        self._until[tp] = self._clock() + wait
        if self._in_flight.put_back(pending):
            self._from[tp] = pending.message.offset
            self._pauses.pause_partition(tp)
            self._consumer().seek(TopicPartition(tp[0], tp[1], pending.message.offset))
        else:
            self._kept.setdefault(tp, []).append(pending)
        if unavailable.what not in self._what:
            log.error("%s unavailable (%s); %s waits at offset %d and is read again in %.0fs; "
                      "nothing is dead-lettered for it", unavailable.what, unavailable.error,
                      f"{tp[0]}/{tp[1]}", pending.message.offset, wait)
        self._what[unavailable.what] = unavailable.error
        self._readiness.set("inputs", f"{unavailable.what} unavailable: {unavailable.error}; "
                                      f"{len(self._until)} partition(s) wait")
        self._metrics.partitions_held.labels(unavailable.what).set(len(self._until))

    def due(self) -> list[Pending]:
        """Resume the partitions whose wait is over (consumer.pauses: unless another reason
        holds them); the entries to transform again."""
        now, again = self._clock(), []
        for tp in [tp for tp, until in self._until.items() if until <= now]:
            del self._until[tp]
            self._from.pop(tp, None)
            again += self._kept.pop(tp, [])
            self._pauses.resume_partition(tp)
        for what in self._what:
            self._metrics.partitions_held.labels(what).set(len(self._until))
        return again

    def passed(self, tp: TP) -> None:
        """A message of ``tp`` decoded: whatever it waited for is back."""
        if self._tries.pop(tp, None) is not None and not self._tries:
            log.warning("%s available again; the waiting partitions go on", ", ".join(self._what))
            self._what.clear()
            self._readiness.set("inputs", None)

    def forget(self, tps: set[TP]) -> None:
        """Revoked or lost: their next owner reads them again."""
        tables: tuple[dict[TP, Any], ...] = (self._until, self._from, self._tries, self._kept)
        for tp in tps:
            for table in tables:
                table.pop(tp, None)
        self._pauses.forget(tps)
        if not self._tries:
            self._what.clear()
            self._readiness.set("inputs", None)
