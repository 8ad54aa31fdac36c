"""Which offsets may be committed: per-partition watermarks and the commit policy.

Messages of one partition are settled out of order (different contacts are delivered in
parallel), but Kafka commits one number per partition meaning "everything before this is done".
So each partition keeps the offsets it has taken, in order, and its watermark only moves past
an offset once everything before it is done too. The committed value is the *next* offset to
read (last done + 1), as Kafka expects.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["CommitPolicy", "OffsetBook", "PartitionOffsets"]

TopicPartitionKey = tuple[str, int]


class PartitionOffsets:
    """Offsets taken from one partition and not yet covered by its watermark."""

    __slots__ = ("_done", "_taken", "_times", "committed", "watermark")

    def __init__(self) -> None:
        self._taken: deque[int] = deque()
        self._times: deque[float] = deque()  # Kafka timestamps (s) of _taken, for the time lag
        self._done: set[int] = set()
        self.watermark: int | None = None  # next offset to commit; None until something is done
        self.committed: int | None = None  # what was last committed for this partition

    def take(self, offset: int, timestamp: float = 0.0) -> None:
        self._taken.append(offset)
        self._times.append(timestamp)

    def done(self, offset: int) -> None:
        self._done.add(offset)
        taken, done, times = self._taken, self._done, self._times
        while taken and taken[0] in done:
            first = taken.popleft()
            times.popleft()
            done.discard(first)
            self.watermark = first + 1

    @property
    def next_unsettled(self) -> int | None:
        """Where this partition's lag starts: the oldest offset not settled, else the watermark."""
        if self._taken:
            return self._taken[0]
        return self.watermark if self.watermark is not None else self.committed

    @property
    def oldest_timestamp(self) -> float | None:
        """Kafka timestamp (epoch s) of the oldest message not yet covered by the watermark."""
        return self._times[0] if self._times else None

    @property
    def pending(self) -> int:
        """Taken and not yet covered by the watermark (includes done-but-blocked ones)."""
        return len(self._taken)

    @property
    def dirty(self) -> bool:
        return self.watermark is not None and self.watermark != self.committed


class OffsetBook:
    """The watermarks of every partition this process owns."""

    def __init__(self) -> None:
        self._parts: dict[TopicPartitionKey, PartitionOffsets] = {}
        self.settled_since_commit = 0

    def assign(self, tp: TopicPartitionKey) -> None:
        self._parts[tp] = PartitionOffsets()

    def forget(self, tp: TopicPartitionKey) -> None:
        self._parts.pop(tp, None)

    def take(self, tp: TopicPartitionKey, offset: int, timestamp: float = 0.0) -> None:
        part = self._parts.get(tp)
        if part is None:  # a message fetched before its assignment callback ran
            part = self._parts[tp] = PartitionOffsets()
        part.take(offset, timestamp)

    def partitions(self) -> dict[TopicPartitionKey, PartitionOffsets]:
        return self._parts

    def done(self, tp: TopicPartitionKey, offset: int) -> None:
        part = self._parts.get(tp)
        if part is not None:  # None: the partition was revoked meanwhile; its new owner redoes it
            part.done(offset)
            self.settled_since_commit += 1

    def pending(self, tp: TopicPartitionKey | None = None) -> int:
        if tp is not None:
            part = self._parts.get(tp)
            return part.pending if part else 0
        return sum(p.pending for p in self._parts.values())

    def to_commit(self, only: set[TopicPartitionKey] | None = None) -> dict[TopicPartitionKey, int]:
        """Watermarks that moved since their last commit."""
        return {
            tp: p.watermark  # type: ignore[misc]  # dirty implies not None
            for tp, p in self._parts.items()
            if p.dirty and (only is None or tp in only)
        }

    def mark_committed(self, offsets: dict[TopicPartitionKey, int]) -> None:
        for tp, offset in offsets.items():
            part = self._parts.get(tp)
            if part is not None:
                part.committed = offset
        self.settled_since_commit = 0


@dataclass(frozen=True, slots=True)
class CommitPolicy:
    """Commit at most every ``interval_s`` seconds, or sooner after ``every_messages``.

    Revokes and shutdown always commit, whatever the policy says.
    """

    interval_s: float
    every_messages: int

    def due(self, now: float, last_commit: float, settled_since: int) -> bool:
        if settled_since == 0:
            return False
        return settled_since >= self.every_messages or now - last_commit >= self.interval_s
