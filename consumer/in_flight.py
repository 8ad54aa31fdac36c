"""What is in flight: per partition, the messages taken and not yet behind its watermark, in order.

Owned by the poll thread alone (as getsentry/arroyo's RunTaskInThreads keeps its queue). Each
partition holds an ordered queue of :class:`Pending` entries: a message, its :class:`State`
and, once it went to delivery, the future its job resolves. An entry is *done* once its message
was delivered, filtered, or its dead letter (or park record) acknowledged by the broker.
Settling is "pop the done entries at the head, in offset order", so the commit watermark (last
popped + 1, the next offset to read) falls out of the queue: it never passes a message that is
not done.

An entry's state changes only through :class:`InFlight`'s methods, which keep the two counts
backpressure reads (``pending``: held, ``open``: not done) true by construction.
"""

from __future__ import annotations

import concurrent.futures
import enum
from collections import deque
from collections.abc import Iterable, Iterator

from consumer.job import Result
from consumer.message import Message
from consumer.outcomes import Failure

__all__ = ["InFlight", "PartitionWork", "Pending", "State"]

TP = tuple[str, int]


class State(enum.Enum):
    TAKEN = "taken"  # on the poll thread: routed, transformed; nothing of it left the process
    DELIVERING = "delivering"  # a job with the delivery station; its future says how it ended
    WRITING = "writing"  # its dead letter or park record is with the producer, unacknowledged
    WAITING = "waiting"  # a park record in the waiting room, for its contact (consumer.contacts)
    STOPPED = "stopped"  # abandoned, or held by a tripped breaker: stays uncommitted, redelivered
    DONE = "done"  # delivered, filtered, or its record acknowledged: the watermark may pass it


class Pending:
    """One message taken from Kafka and not yet behind its partition's watermark."""

    __slots__ = ("failure", "future", "message", "part", "since", "size", "source", "state")

    def __init__(self, message: Message, part: PartitionWork):
        self.message = message
        self.source = message  # the event's own message: the parked original for a waiting record
        self.since: float | None = None  # a park record: since when its event waits (epoch s)
        self.part = part
        self.state = State.TAKEN
        self.future: concurrent.futures.Future[Result] | None = None  # while DELIVERING
        self.failure: Failure | None = None  # the dead letter being written (WRITING)
        self.size = len(message.value or b"") + len(message.key or b"")  # bytes held for it

    def __repr__(self) -> str:
        return f"Pending({self.message.where()}, {self.state.value})"

    @property
    def done(self) -> bool:
        return self.state is State.DONE

    @property
    def started(self) -> bool:
        """Its job went on the wire, or ended: something of it may be on a timeline."""
        future = self.future
        return future is not None and (future.running() or future.done())

    @property
    def can_still_finish(self) -> bool:
        """On its way: delivery has not answered, or its record is unacknowledged."""
        return self.state is State.DELIVERING or self.state is State.WRITING


class PartitionWork:
    """One partition's queue and its watermark."""

    __slots__ = ("committed", "forgotten", "queue", "watermark")

    def __init__(self) -> None:
        self.queue: deque[Pending] = deque()
        self.watermark: int | None = None  # next offset to commit; None until something is done
        self.committed: int | None = None  # what was last committed for this partition
        self.forgotten = False  # revoked or lost: late results for it are ignored

    def advance(self) -> tuple[int, int]:
        """Pop the done entries at the head; returns how many, and their bytes."""
        queue, popped, size = self.queue, 0, 0
        while queue and queue[0].state is State.DONE:
            done = queue.popleft()
            self.watermark = done.message.offset + 1
            popped += 1
            size += done.size
        return popped, size

    @property
    def next_unsettled(self) -> int | None:
        """Where this partition's lag starts: the oldest offset not settled, else the watermark."""
        if self.queue:
            return self.queue[0].message.offset
        return self.watermark if self.watermark is not None else self.committed

    @property
    def oldest_timestamp(self) -> float | None:
        """Kafka timestamp (epoch s) of the oldest message not yet behind the watermark."""
        if not self.queue:
            return None
        ts = self.queue[0].message.timestamp_ms
        return ts / 1000 if ts else None

    @property
    def dirty(self) -> bool:
        return self.watermark is not None and self.watermark != self.committed


class InFlight:
    """Every partition this process owns, and what backpressure measures: the entries held
    (``pending``, and their ``bytes``: memory) and those of them not done (``open``: work still
    to do); of those, the ones waiting for a contact (``waiting``, ``waiting_bytes``)."""

    def __init__(self) -> None:
        self.parts: dict[TP, PartitionWork] = {}
        self.pending = 0  # entries in every queue: taken and not yet behind a watermark
        # of those, not done. pending - open are done and wait behind an earlier entry of their
        # partition (one slow request at a queue's head holds everything taken after it there)
        self.open = 0
        self.bytes = 0  # keys and values of the entries held: what processing.max_pending_bytes bounds
        self.waiting = 0  # of the open ones, WAITING for a contact (not work this process can do)
        self.waiting_bytes = 0
        self.settled_since_commit = 0
        self._moved: set[PartitionWork] = set()  # partitions with newly done entries

    # --- partitions ------------------------------------------------------------------------------

    def assign(self, tp: TP) -> None:
        self.parts[tp] = PartitionWork()

    def forget(self, tp: TP) -> list[Pending]:
        """Revoked or lost: drop the partition; returns its entries that are not done."""
        part = self.parts.pop(tp, None)
        if part is None:
            return []
        part.forgotten = True
        self._moved.discard(part)
        self.pending -= len(part.queue)
        self.bytes -= sum(p.size for p in part.queue)
        unfinished = [p for p in part.queue if p.state is not State.DONE]
        self.open -= len(unfinished)
        waiting = [p for p in unfinished if p.state is State.WAITING]
        self.waiting -= len(waiting)
        self.waiting_bytes -= sum(p.size for p in waiting)
        return unfinished

    # --- an entry's life -------------------------------------------------------------------------

    def take(self, message: Message) -> Pending:
        part = self.parts.get(message.tp)
        if part is None:  # a message fetched before its assignment callback ran
            part = self.parts[message.tp] = PartitionWork()
        pending = Pending(message, part)
        part.queue.append(pending)
        self.pending += 1
        self.open += 1
        self.bytes += pending.size
        return pending

    def settle_at_head(self, tp: TP, offset: int) -> bool:
        """A message done the moment it is taken (filtered from its bytes): when its partition
        holds nothing, the watermark moves past it at once, with no entry made; returns False
        when entries are held (the caller takes it as usual: it waits for the ones before it)."""
        part = self.parts.get(tp)
        if part is None:  # a message fetched before its assignment callback ran
            part = self.parts[tp] = PartitionWork()
        if part.queue:
            return False
        part.watermark = offset + 1
        self.settled_since_commit += 1
        return True

    def delivering(self, pending: Pending, future: concurrent.futures.Future[Result]) -> None:
        self._leave_waiting(pending)
        pending.state, pending.future = State.DELIVERING, future

    def writing(self, pending: Pending, failure: Failure | None = None) -> None:
        """Its dead letter (``failure``) or park record (None) goes to the producer."""
        self._leave_waiting(pending)
        pending.state, pending.failure, pending.future = State.WRITING, failure, None

    def waiting_for_contact(self, pending: Pending, since: float) -> None:
        if pending.state is not State.WAITING and not pending.part.forgotten:
            self.waiting += 1
            self.waiting_bytes += pending.size
        pending.state, pending.since = State.WAITING, since

    def stop(self, pending: Pending) -> None:
        """Abandoned, or held by a tripped breaker: never settled here, redelivered later."""
        self._leave_waiting(pending)
        pending.state, pending.future = State.STOPPED, None

    def put_back(self, pending: Pending) -> bool:
        """Take back the newest entry of its partition (its message will be read again: the
        consumer seeks back to it); False, and nothing changes, when it is not the newest."""
        queue = pending.part.queue
        if not queue or queue[-1] is not pending or pending.state is not State.TAKEN:
            return False
        queue.pop()
        if not pending.part.forgotten:
            self.pending -= 1
            self.open -= 1
            self.bytes -= pending.size
        return True

    def settle(self, pending: Pending) -> None:
        """The entry is done (delivered, filtered, dead letter or park record acknowledged)."""
        if pending.state is State.DONE:
            return
        self._leave_waiting(pending)
        pending.state = State.DONE
        # Its future is read: let go of it. The future's done-callback holds this entry, so the
        # pair is a reference cycle that would wait for the cyclic GC (bench memory: ~4,000
        # futures, with their locks, alive at once).
        pending.future = None
        if not pending.part.forgotten:  # a forgotten partition's entries left both counts
            self.open -= 1
            self._moved.add(pending.part)

    def _leave_waiting(self, pending: Pending) -> None:
        if pending.state is State.WAITING and not pending.part.forgotten:
            self.waiting -= 1
            self.waiting_bytes -= pending.size

    def advance(self) -> None:
        """Move the watermarks of the partitions that had entries settled."""
        for part in self._moved:
            popped, size = part.advance()
            self.pending -= popped
            self.bytes -= size
            self.settled_since_commit += popped
        self._moved.clear()

    # --- what revokes, shutdown and commits ask -------------------------------------------------

    def unfinished(self, tps: set[TP] | None = None) -> Iterator[Pending]:
        """Entries (of ``tps``; None: all) that are not done."""
        for tp, part in self.parts.items():
            if tps is None or tp in tps:
                yield from (p for p in part.queue if p.state is not State.DONE)

    def beyond_cut(self, tps: set[TP] | None = None) -> Iterator[Pending]:
        """Revoke/shutdown: the entries that may be abandoned at once.

        A partition's *cut* is its last entry that is done or whose job went on the wire
        (``future.running()``). Entries before the cut must finish: otherwise the watermark
        could not reach a message that is already on a timeline, and its next owner would post
        it again (the ledger catches that, but a memory ledger does not survive a restart).
        Entries after it have sent nothing, so they can stop now and be redelivered.
        """
        for tp, part in self.parts.items():
            if tps is not None and tp not in tps:
                continue
            entries = list(part.queue)
            cut = max((i for i, p in enumerate(entries) if p.done or p.started), default=-1)
            yield from (p for p in entries[cut + 1:] if not p.done)

    @staticmethod
    def futures(entries: Iterable[Pending]) -> Iterator[concurrent.futures.Future[Result]]:
        """The delivery futures of these entries (those that went to delivery), to abandon."""
        return (p.future for p in entries if p.future is not None)

    def count(self, tps: set[TP]) -> int:
        return sum(len(self.parts[tp].queue) for tp in tps if tp in self.parts)

    def to_commit(self, only: set[TP] | None = None) -> dict[TP, int]:
        """Watermarks that moved since their last commit."""
        return {
            tp: p.watermark  # type: ignore[misc]  # dirty implies not None
            for tp, p in self.parts.items()
            if p.dirty and (only is None or tp in only)
        }

    def mark_committed(self, offsets: dict[TP, int]) -> None:
        for tp, offset in offsets.items():
            part = self.parts.get(tp)
            if part is not None:
                part.committed = offset
        self.settled_since_commit = 0
