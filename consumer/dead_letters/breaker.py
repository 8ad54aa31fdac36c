"""The dead-letter breaker: a bad deploy halts the consumer instead of draining a topic into the DLQ.

One bad message is dead-lettered and forgotten; a transform that broke in the last deploy
dead-letters *every* message, and a consumer that keeps going empties the whole topic into the
dead-letter topic, commits it, and leaves an operator a redrive of millions. The breaker watches
how messages settle and trips on either sign (after arroyo's dlq.py):

- more than ``max_consecutive`` dead letters in a row, or
- more than ``max_ratio`` of the last ``window`` settled messages dead-lettered, judged only once
  ``min_messages`` have settled (so the first few failures of a run cannot trip it alone).

It stays tripped until :meth:`reset` (an operator's restart, after the fix): what to do when it
trips is the loop's decision (stop delivering and committing that topic's partitions).

What is counted: *per topic* (:class:`TopicBreakers`). Each topic has its own transform and its
own producers, and a deploy usually breaks one of them; halting every topic because orders are
broken would stop healthy payments too. A failure that is everyone's (Freshdesk rejecting every
activity) trips every busy topic's breaker on its own, so nothing is lost by keeping them apart.
Every settled message counts: delivered and filtered ones (including tombstones) as healthy,
dead letters of any reason as dead. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections import deque

from consumer.config import BreakerSettings

__all__ = ["BreakerSettings", "DeadLetterBreaker", "TopicBreakers"]


class DeadLetterBreaker:
    """The breaker of one stream of settled messages (one topic)."""

    def __init__(self, settings: BreakerSettings):
        self.settings = settings
        self._window: deque[bool] = deque(maxlen=settings.window)
        self._dead_in_window = 0
        self.consecutive = 0
        self._tripped: str | None = None

    def record(self, dead_lettered: bool) -> None:
        """One settled message: dead-lettered, or delivered / filtered."""
        w = self._window
        if len(w) == w.maxlen and w[0]:
            self._dead_in_window -= 1  # about to fall out of the window
        w.append(dead_lettered)
        self._dead_in_window += dead_lettered
        self.consecutive = self.consecutive + 1 if dead_lettered else 0
        if self._tripped is None:
            self._tripped = self._check()

    def record_healthy(self) -> None:
        """``record(False)``, cheaper: with no dead letter in the window nothing can trip."""
        if self._dead_in_window:
            self.record(False)
            return
        self._window.append(False)  # what falls out of the window is healthy too
        self.consecutive = 0

    def _check(self) -> str | None:
        s = self.settings
        if self.consecutive > s.max_consecutive:
            return f"{self.consecutive} dead letters in a row (limit {s.max_consecutive})"
        seen = len(self._window)
        if seen >= s.min_messages and self._dead_in_window > s.max_ratio * seen:
            return (f"{self._dead_in_window} of the last {seen} messages dead-lettered "
                    f"({self._dead_in_window / seen:.0%}, limit {s.max_ratio:.0%})")
        return None

    @property
    def tripped(self) -> str | None:
        """None, or why it tripped, in words; stays set until :meth:`reset`."""
        return self._tripped

    @property
    def ratio(self) -> float:
        return self._dead_in_window / len(self._window) if self._window else 0.0

    def reset(self) -> None:
        self._window.clear()
        self._dead_in_window = 0
        self.consecutive = 0
        self._tripped = None


class TopicBreakers:
    """One :class:`DeadLetterBreaker` per topic, made on the topic's first settled message."""

    def __init__(self, settings: BreakerSettings):
        self.settings = settings
        self._by_topic: dict[str, DeadLetterBreaker] = {}

    def record(self, topic: str, dead_lettered: bool) -> str | None:
        """Count one settled message of ``topic``; returns the topic's trip reason, if tripped."""
        breaker = self._by_topic.get(topic)
        if breaker is None:
            breaker = self._by_topic[topic] = DeadLetterBreaker(self.settings)
        breaker.record(dead_lettered)
        return breaker.tripped

    def record_healthy(self, topic: str) -> None:
        """One delivered or filtered message of ``topic`` (the per-message path's call)."""
        breaker = self._by_topic.get(topic)
        if breaker is None:
            breaker = self._by_topic[topic] = DeadLetterBreaker(self.settings)
        breaker.record_healthy()

    def tripped(self, topic: str) -> str | None:
        breaker = self._by_topic.get(topic)
        return breaker.tripped if breaker is not None else None

    @property
    def tripped_topics(self) -> dict[str, str]:
        """Every tripped topic with its reason."""
        return {t: b.tripped for t, b in self._by_topic.items() if b.tripped is not None}

    def reset(self, topic: str | None = None) -> None:
        """Reset one topic's breaker, or all of them."""
        for t, breaker in self._by_topic.items():
            if topic is None or t == topic:
                breaker.reset()
