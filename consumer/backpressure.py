"""When the poll loop may take more messages, and when it must pause its partitions.

Three measures, all the poll thread's (consumer.in_flight): *open* messages (taken, not done: work
still to do), *held* ones (open, or done but behind an open one of their partition, so not yet
committable) and the *bytes* of the held ones' keys and values. At most ``limit`` open,
``held_factor * limit`` held and ``max_bytes`` (processing.max_pending_bytes); past any the loop
is *full* and takes nothing until all are back under their low-water marks.

A full loop first just stops taking: it waits for results and keeps librdkafka's prefetched
messages where they are. Pausing the partitions at once (what this did before) made librdkafka
drop its fetch queue and fetch again after the resume: a 0.3-0.9 s gap with nothing to deliver,
about once per ``limit`` messages of a backlog (bench delivery: ~1,000/s with a sink that takes
~3,800/s). Only a loop full for ``pause_after_s`` pauses its partitions, so that it can go on
calling consume() (rebalance callbacks, ``max.poll.interval.ms``) without taking messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consumer.config import ProcessingSettings

__all__ = ["Backpressure"]

log = logging.getLogger("consumer.loop")


class Backpressure:
    def __init__(self, limit: int, *, held_factor: int = 4, low_water: float = 0.5,
                 max_bytes: int | None = None, pause_after_s: float = 1.0,
                 on_full: Callable[[bool], None] = lambda full: None,
                 on_pause: Callable[[bool], None] = lambda paused: None) -> None:
        self.limit = limit
        self.cap = limit * held_factor
        self._low_open = limit * low_water
        self._low_held = self.cap * low_water
        self.max_bytes = max_bytes  # bytes held (keys and values), when bounded
        self._low_bytes = (max_bytes or 0) * low_water
        self.pause_after_s = pause_after_s
        self.full_since: float | None = None  # None: taking
        self.paused = False  # the loop's partitions are paused (full for pause_after_s)
        self._on_full = on_full  # told when the loop becomes full (True) and takes again (False)
        self._on_pause = on_pause  # told to pause (True) or resume (False) the partitions

    @classmethod
    def of(cls, processing: ProcessingSettings, pause_after_s: float,
           on_pause: Callable[[bool], None], on_full: Callable[[bool], None]) -> Backpressure:
        """The loop's: max_pending_messages open, four times that held, max_pending_bytes."""
        return cls(processing.max_pending_messages, max_bytes=processing.max_pending_bytes,
                   pause_after_s=pause_after_s, on_pause=on_pause, on_full=on_full)

    def room(self, open_: int, held: int, now: float, held_bytes: int = 0) -> int:
        """How many messages may be taken now; 0 while full (until every measure is back under
        its low-water mark). Bytes are known only once taken: past max_bytes the loop is full,
        so what is held exceeds it by one consume() at most (librdkafka's queue bounds that)."""
        if self.full_since is not None:
            if open_ > self._low_open or held > self._low_held or (
                    self.max_bytes is not None and held_bytes > self._low_bytes):
                return 0
            self.full_since = None
        room = min(self.limit - open_, self.cap - held)
        if room <= 0 or (self.max_bytes is not None and held_bytes >= self.max_bytes):
            self.full_since = now
            return 0
        return room

    def overdue(self, now: float) -> bool:
        """Full for ``pause_after_s`` or longer: time to pause the partitions."""
        return self.full_since is not None and now - self.full_since >= self.pause_after_s

    def admit(self, open_: int, held: int, now: float, held_bytes: int = 0) -> int:
        """:meth:`room`, pausing the partitions (``on_pause(True)``) when full for
        ``pause_after_s`` and resuming them once taking again."""
        was_full = self.full_since is not None
        if room := self.room(open_, held, now, held_bytes):
            if was_full:
                self._on_full(False)
                log.debug("taking again: %d messages open, %d held", open_, held)
            if self.paused:
                self.paused = False
                log.info("resumed: %d messages open, %d held", open_, held)
                self._on_pause(False)
            return room
        if not was_full:
            self._on_full(True)
            log.debug("full: %d messages open (limit %d), %d held (limit %d), %d bytes "
                      "(limit %s)", open_, self.limit, held, self.cap, held_bytes, self.max_bytes)
        if not self.paused and self.overdue(now):
            self.paused = True
            log.info("paused: full for %.1fs: %d messages open (limit %d), %d held (limit %d)",
                     self.pause_after_s, open_, self.limit, held, self.cap)
            self._on_pause(True)
        return 0
