"""The consumer: poll → triage → take → submit → settle → commit, top to bottom in this file.

Threads and who owns what:
- this loop (the poll thread) owns the Kafka consumer, the dead-letter producer, the parking lot
  and what is in flight (consumer.in_flight: per partition, the messages taken in order, each
  with its state and the future of its delivery job). Settling pops the done entries at the head
  of each partition's queue, so the commit watermark never passes a message that is not done;
- the delivery station (consumer.delivery) runs on its own asyncio thread. It gets jobs and
  resolves one future per job; it knows nothing of partitions or commits. Each resolved future
  puts its entry on ``_completed``, which only this thread reads;
- the health server's thread reads consumer.readiness, each cause written by one owner.

Invariants kept here:
- an offset is committed only once its message was delivered, dead-lettered (the dead letter
  acknowledged by the broker), parked (the park record acknowledged) or filtered;
- at most ``max_pending_messages`` are open (taken, not yet done), four times that held (open,
  or done behind an open one), and ``max_pending_bytes`` of them: past any, nothing more is
  taken until all are back under half (consumer.backpressure); full for ``pause_after_s``, the
  partitions pause (polling goes on: the group membership stays alive);
- revoke and shutdown stop submitting, abandon the jobs past each partition's cut (nothing of
  theirs was sent), wait (within ``drain_timeout_s``) for the ones before it, so that the
  watermark reaches every message already on a timeline, dead-letter what failed, commit, and
  leave the rest uncommitted (redelivered).

What it is connected to (Kafka, delivery, dead letters, the directory, health) is built by
consumer.app and handed over as a Wiring; the unit tests hand over fakes.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from confluent_kafka import TopicPartition

from consumer.backpressure import Backpressure
from consumer.commit_policy import CommitPolicy, commit
from consumer.config import Config
from consumer.config import kafka as kafka_settings
from consumer.contacts.parking_lot import ParkingLot
from consumer.dead_letters.sender import DeadLetterSender
from consumer.holds import PartitionHolds
from consumer.in_flight import InFlight, Pending
from consumer.job import ABANDONED, Job
from consumer.kafka_close import close_within
from consumer.kafka_health import KafkaHealth
from consumer.lag import forget_lag_gauges, update_lag_gauges
from consumer.message import Message, is_kafka_error
from consumer.metrics import METRICS, Metrics, PerTopic, TopicMetrics
from consumer.outcomes import Counts, Failure, Unavailable, Waiting
from consumer.pauses import Pauses
from consumer.readiness import Readiness
from consumer.routing import Route, Router
from transforms import FILTER_REASONS, Filtered

if TYPE_CHECKING:
    from consumer.app import Wiring

__all__ = ["ActivityConsumer"]

log = logging.getLogger("consumer.loop")

TP = tuple[str, int]
_BATCH = 500  # messages per consume() call: amortises the call, bounded by max_pending
_GAUGE_INTERVAL_S = 2.0  # lag gauges: often enough for alerts, rare enough to cost nothing
_PAUSE_AFTER_S = 1.0  # full this long: pause the partitions (consume() must go on)
_BUSY_WAIT_S = 0.005  # the wait for a message while work is out (settle it promptly)


class ActivityConsumer:
    def __init__(self, config: Config, router: Router, wiring: Wiring, *,
                 metrics: Metrics = METRICS, progress_interval_s: float = 30.0,
                 pause_after_s: float = _PAUSE_AFTER_S):
        self.config = config
        self.router = router
        self.metrics = metrics
        self.counts = Counts()
        self.in_flight = InFlight()
        self.readiness = Readiness()
        self.policy = CommitPolicy.of(config.processing)
        self._wiring = wiring
        self._completed: queue.SimpleQueue[Pending] = queue.SimpleQueue()  # futures that resolved
        self._stop = threading.Event()
        self._pauses = Pauses(lambda: self._consumer)  # why each partition is paused
        self._backpressure = Backpressure.of(config.processing, pause_after_s, self._pauses.set_all,
                                             on_full=lambda full: metrics.paused.set(int(full)))
        self._progress_interval = progress_interval_s
        self._waiting_topic = config.contacts.waiting_topic_for(config.group)
        self._jobs: list[tuple[Pending, Job]] = []  # made this round, handed over in one batch
        self._per_topic = PerTopic(metrics, router.transform_name)
        self.close_abandoned = False  # librdkafka's close outlived close_timeout_s (see _close)

    def stop(self) -> None:
        """Ask the loop to shut down (safe from a signal handler or another thread)."""
        self._stop.set()

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        self._start()
        last_commit = last_progress = last_gauges = time.monotonic()
        flowing = False  # the last consume() returned messages
        try:
            while not self._stop.is_set():
                batch, settle_wait = self._poll(flowing)
                flowing = bool(batch)
                self._take(batch)
                self._release_waiting()
                self._submit()
                self._settle(settle_wait)
                now = time.monotonic()
                self.metrics.last_poll.set(time.time())
                if now - last_gauges >= _GAUGE_INTERVAL_S:
                    self.metrics.pending.set(self.in_flight.pending)
                    update_lag_gauges(self.metrics, self._consumer, self.in_flight.parts,
                                      self._kafka_health)
                    last_gauges = now
                if self.policy.due(now, last_commit, self.in_flight.settled_since_commit):
                    commit(self._consumer, self.in_flight, self.metrics)
                    last_commit = now
                if now - last_progress >= self._progress_interval:
                    self._log_progress()
                    last_progress = now
        finally:
            self._shutdown()
        return 0

    def _poll(self, flowing: bool) -> tuple[list[Any], float]:
        """Flowing: take what is there without waiting. Else wait for the first message only
        (consume(n, t) waits for n or t), briefly while work is out so that its settling and
        commit follow within milliseconds. Full (consumer.backpressure): take nothing and let
        _settle wait (the second value); paused, consume() still serves the group's callbacks."""
        if room := self._room():
            if flowing:
                return self._consumer.consume(min(_BATCH, room), 0), 0.0
            busy = self.in_flight.pending > 0
            return self._consumer.consume(
                1, _BUSY_WAIT_S if busy else self.config.processing.poll_timeout_s), 0.0
        if self._backpressure.paused:
            return self._consumer.consume(1, _BUSY_WAIT_S), 0.0  # callbacks; nothing comes
        return [], _BUSY_WAIT_S

    def _room(self) -> int:
        """How many messages the loop may take now (consumer.backpressure, which pauses and
        resumes the partitions). Entries waiting for a contact count for no measure: they are
        not work this process can do now (contacts.max_waiting and their bytes bound them)."""
        f = self.in_flight
        return self._backpressure.admit(f.open - f.waiting, f.pending - f.waiting, time.monotonic(),
                                        f.bytes - f.waiting_bytes)

    def _take(self, batch: list[Any]) -> None:
        """Triage each message once; what needs delivery is handed over after the batch, in one go.
        The fast path: one that triage settles (filtered from its bytes, a tombstone) on a
        partition that holds nothing else moves the watermark past it at once
        (InFlight.settle_at_head): no Message, no Pending, no decode."""
        route_for, triage = self.router.route_for, self.router.triage
        settle_at_head, waiting_topic = self.in_flight.settle_at_head, self._waiting_topic
        holds = self._holds
        taken = fast = 0
        try:
            for m in batch:
                if is_kafka_error(m):
                    continue
                taken += 1
                topic = m.topic()
                if holds and holds.skips((topic, m.partition()), m.offset()):
                    continue  # its partition was put back: read again after the wait
                if topic == waiting_topic:
                    self._take_parked(self.in_flight.take(Message.from_kafka(m)))
                    continue
                route = route_for(topic)
                per_topic = self._per_topic(topic)
                per_topic.consumed_n += 1
                early = triage(route, topic, m.value())
                if isinstance(early, Filtered) and settle_at_head((topic, m.partition()), m.offset()):
                    fast += 1
                    self._count_filtered(per_topic, early, m.partition(), m.offset())
                    continue
                pending = self.in_flight.take(Message.from_kafka(m))
                if early is not None or route is None:
                    self._act_on(pending, early, per_topic)  # type: ignore[arg-type]
                    continue
                started = time.perf_counter()
                self._transform(pending, route)
                per_topic.transform_seconds.observe(time.perf_counter() - started)
        finally:
            if taken:
                self._kafka_health.healthy()
            self.counts.consumed += taken
            self.counts.filtered += fast
            self._per_topic.flush()

    def _take_parked(self, pending: Pending) -> None:
        """A record of the waiting topic: its original event, transformed again."""
        if (failure := self._parking.take_parked(pending)) is not None:
            self._dead_letters.send(pending, failure)
        else:
            self._transform(pending)

    def _transform(self, pending: Pending, route: Route | None = None) -> None:
        """Transform the entry's event (``route``: triaged already) and act on the outcome;
        named only by vendor ids the directory does not know yet, it waits (consumer.contacts)."""
        lookup = self._parking.lookup
        outcome = self.router.transform(pending.source, route, lookup) if route else \
            self.router.process(pending.source, lookup)
        if isinstance(outcome, Unavailable):
            return self._holds.hold(pending, outcome)  # it waits, and its partition with it
        if self._holds.recovering:
            self._holds.passed(pending.message.tp)
        if isinstance(outcome, Waiting):
            if (failure := self._parking.park(pending, outcome)) is None:
                return  # parked, or waiting in the room
            outcome = failure
        self._act_on(pending, outcome, self._per_topic(pending.source.topic))

    def _act_on(self, pending: Pending, outcome: Filtered | Failure | tuple[Any, ...],
                per_topic: TopicMetrics) -> None:
        """Filtered: settled now; a Failure: dead-lettered; activities: a job for delivery."""
        if isinstance(outcome, Filtered):
            self.counts.filtered += 1
            self._count_filtered(per_topic, outcome, pending.source.partition, pending.source.offset)
            self.in_flight.settle(pending)
        elif isinstance(outcome, Failure):
            self._dead_letters.send(pending, outcome)
        else:
            self._jobs.append((pending, Job(pending.source, outcome, per_topic.transform)))

    def _count_filtered(self, per_topic: TopicMetrics, outcome: Filtered, partition: int,
                        offset: int) -> None:
        per_topic.filtered(outcome.reason if outcome.reason in FILTER_REASONS else "other")
        self._dead_letters.breakers.record_healthy(per_topic.topic)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("filtered %s/%s@%s: %s: %s", per_topic.topic, partition, offset,
                      outcome.reason, outcome.detail)

    def _release_waiting(self) -> None:
        released, expired = self._parking.due()
        if self._holds:
            released += [p for p in self._holds.due() if not p.part.forgotten]
        for pending in released:
            self._transform(pending)
        for pending, failure in expired:
            self._dead_letters.send(pending, failure)
        self.metrics.waiting.set(self.in_flight.waiting)
        if released:
            self._per_topic.flush()

    def _submit(self) -> None:
        if not self._jobs:
            return
        entries, jobs = zip(*self._jobs, strict=True)
        self._jobs = []
        completed = self._completed.put
        for pending, future in zip(entries, self._station.submit(list(jobs)), strict=True):
            self.in_flight.delivering(pending, future)
            # on the thread that resolves it: one put, which only the poll thread reads
            future.add_done_callback(lambda _, entry=pending: completed(entry))  # type: ignore[misc]

    def _settle(self, wait_s: float = 0.0) -> None:
        """Take in what delivery finished and what the broker acknowledged; move the watermarks.
        ``wait_s``: wait that long for the first result (the loop is full, not polling)."""
        while True:
            try:
                pending = self._completed.get(timeout=wait_s) if wait_s else self._completed.get_nowait()
                wait_s = 0.0
            except queue.Empty:
                break
            if pending.part.forgotten or pending.future is None:
                continue  # revoked or lost meanwhile: its next owner redoes it
            result = pending.future.result()
            if result is None:
                self.counts.delivered += 1
                self._dead_letters.breakers.record(pending.message.topic, False)
                self.in_flight.settle(pending)
            elif result is ABANDONED:
                self.in_flight.stop(pending)  # its partition is being revoked or we are stopping
            else:
                self._dead_letters.send(pending, result)  # type: ignore[arg-type]  # a Failure
        self._dlq.poll()  # runs the dead letters' and park records' acknowledgement callbacks
        self._dead_letters.retry_due()
        self.in_flight.advance()

    # --- rebalances ------------------------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if self.close_abandoned:  # a close left behind (_close) came back late: nothing to do
            return
        for tp in partitions:
            self.in_flight.assign((tp.topic, tp.partition))
        consumer.incremental_assign(partitions)
        self._kafka_health.healthy()
        self._pauses.assigned([(tp.topic, tp.partition) for tp in partitions])
        self.metrics.rebalances.labels("assigned").inc()
        self.metrics.assigned_partitions.set(len(self.in_flight.parts))
        log.info("assigned", extra={"partitions": _names(partitions)})

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if not self.close_abandoned:  # drain what is on its way, commit, then let go
            tps = {(tp.topic, tp.partition) for tp in partitions}
            abandoned = self._drain(tps)
            commit(self._consumer, self.in_flight, self.metrics, only=tps)
            self._forget(tps)
            self.metrics.rebalances.labels("revoked").inc()
            log.info("revoked", extra={"partitions": _names(partitions), "abandoned": abandoned})

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if not self.close_abandoned:  # someone else owns them now: no drain, no commit
            self._forget({(tp.topic, tp.partition) for tp in partitions})
            self.metrics.rebalances.labels("lost").inc()
            log.warning("partitions lost", extra={"partitions": _names(partitions)})

    def _forget(self, tps: set[TP]) -> None:
        unfinished: list[Pending] = []
        for tp in tps:
            unfinished += self.in_flight.forget(tp)
            forget_lag_gauges(self.metrics, tp)
        self._station.abandon(InFlight.futures(unfinished))
        self._parking.drop_forgotten()  # their next owner re-reads them
        self._holds.forget(tps)
        self.metrics.assigned_partitions.set(len(self.in_flight.parts))

    def _drain(self, tps: set[TP] | None) -> int:
        """Revoke (of ``tps``) or shutdown (None): stop what sent nothing, wait for the rest.
        Messages after each partition's cut (InFlight.beyond_cut) stop at once; those before it
        are waited for until ``drain_timeout_s``, then abandoned too. Returns how many messages
        are left unsettled (uncommitted: redelivered later).
        """
        deadline = time.monotonic() + self.config.processing.drain_timeout_s
        self._settle()
        self._station.abandon(InFlight.futures(self.in_flight.beyond_cut(tps)))
        while True:
            self._settle()
            on_the_way = [p for p in self.in_flight.unfinished(tps) if p.can_still_finish]
            left = deadline - time.monotonic()
            if not on_the_way or left <= 0:
                self._station.abandon(InFlight.futures(self.in_flight.unfinished(tps)))
                break
            if futures := [p.future for p in on_the_way if p.future is not None]:
                concurrent.futures.wait(futures, min(left, 0.05), concurrent.futures.FIRST_COMPLETED)
            else:  # only dead letters awaiting the broker's acknowledgement
                self._dlq.poll(min(left, 0.05))
        return self.in_flight.pending if tps is None else self.in_flight.count(tps)

    # --- start and stop --------------------------------------------------------------------------

    def _start(self) -> None:
        w, config = self._wiring, self.config
        self._health = w.health(self.readiness)
        self._station = w.station(self.readiness)
        self._dlq = w.dead_letters()
        self._dead_letters = DeadLetterSender(self._dlq, config.dead_letter.breaker, self.in_flight,
                                              self.metrics, self.counts, self.readiness,
                                              pause_topic=self._pauses.pause_topic)
        self._parking = ParkingLot(w.directory(), config.contacts, self._waiting_topic, self._dlq,
                                   self.in_flight, self.metrics, self.counts, self._dead_letters.send,
                                   config.processing.max_pending_bytes // 2)
        self._holds = PartitionHolds(lambda: self._consumer, self._pauses, self.in_flight,
                                     self.metrics, self.readiness)
        w.ensure_topic(config.kafka, self._waiting_topic, config.contacts.waiting_topic_partitions)
        self._kafka_health = KafkaHealth(self.readiness, self.metrics)
        self._consumer = w.kafka_consumer(self._kafka_health.wired(kafka_settings.consumer_settings(
            config.kafka, config.processing.max_pending_bytes)))
        self._consumer.subscribe([*self.router.topics, self._waiting_topic],
                                 on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_lost)
        self.readiness.set("starting", "subscribed; waiting for the Kafka brokers' first answer")
        log.info("consuming", extra={"topics": ",".join(self.router.topics), "group": config.group,
                                     "freshdesk": getattr(self._station, "url", "?")})

    def _log_progress(self) -> None:
        self.counts.log(log, pending=self.in_flight.pending, paused=self._backpressure.paused,
                        halted=self.readiness.reason("delivery") is not None)

    def _shutdown(self) -> None:
        log.info("shutting down: draining in-flight work",
                 extra={"pending": self.in_flight.pending,
                        "deadline_s": self.config.processing.drain_timeout_s})
        abandoned = self._drain(None)
        if left := self._dlq.close(5.0):  # runs the last acknowledgement callbacks
            log.error("%d dead letters unacknowledged at shutdown; their messages stay "
                      "uncommitted and will be redelivered", left)
        self._settle()  # late results: delivered ones count, failures stay uncommitted
        commit(self._consumer, self.in_flight, self.metrics)
        try:
            if not close_within(self._consumer, self.config.processing.close_timeout_s):
                self.close_abandoned = True  # consumer.kafka_close says why it must not wait
        finally:
            self._station.close()
            self._parking.close()
            if self._health is not None:
                self._health.stop()
        self._log_progress()
        log.info("stopped", extra={"abandoned": abandoned})

def _names(partitions: list[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}/{tp.partition}" for tp in partitions)
