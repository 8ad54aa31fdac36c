"""Why each partition is paused: one owner for the three reasons, so none undoes another's.

- backpressure pauses every partition while the loop is full (consumer.backpressure);
- a tripped dead-letter breaker pauses its topic until a restart (consumer.dead_letters);
- a hold pauses one partition while a system its messages need is down (consumer.holds).

A partition runs only while no reason holds it: backpressure resuming does not wake a stopped
topic or a held partition, and a hold ending does not resume a full loop. librdkafka is told
only what changed. Owned by the poll thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import TopicPartition

__all__ = ["Pauses"]

TP = tuple[str, int]


class Pauses:
    def __init__(self, consumer: Callable[[], Any]):
        self._consumer = consumer  # the Kafka consumer (made after us)
        self.all = False  # backpressure: every partition
        self.topics: set[str] = set()  # tripped breakers
        self.partitions: set[TP] = set()  # holds

    def paused(self, tp: TP) -> bool:
        return self.all or tp[0] in self.topics or tp in self.partitions

    def set_all(self, paused: bool) -> None:
        """Backpressure: every partition paused, or each one back unless another reason holds it."""
        self.all = paused
        if paused:
            self._pause(self._assigned())
        else:
            self._resume([tp for tp in self._assigned() if not self.paused(tp)])

    def pause_topic(self, topic: str) -> None:
        self.topics.add(topic)
        self._pause([tp for tp in self._assigned() if tp[0] == topic])

    def pause_partition(self, tp: TP) -> None:
        self.partitions.add(tp)
        self._pause([tp])

    def resume_partition(self, tp: TP) -> None:
        self.partitions.discard(tp)
        if not self.paused(tp):
            self._resume([tp])

    def assigned(self, tps: Iterable[TP]) -> None:
        """Newcomers keep the promises made to their topic and to a full loop."""
        if held := [tp for tp in tps if self.paused(tp)]:
            self._pause(held)

    def forget(self, tps: Iterable[TP]) -> None:
        self.partitions.difference_update(tps)

    def _assigned(self) -> list[TP]:
        return [(tp.topic, tp.partition) for tp in self._consumer().assignment()]

    def _pause(self, tps: list[TP]) -> None:
        if tps:
            self._consumer().pause([TopicPartition(t, p) for t, p in tps])

    def _resume(self, tps: list[TP]) -> None:
        if tps:
            self._consumer().resume([TopicPartition(t, p) for t, p in tps])
