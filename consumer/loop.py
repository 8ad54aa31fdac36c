"""The consumer: poll → route → transform → deliver → settle → commit, top to bottom in this file.

Threads and who owns what:
- this loop (the poll thread) owns the Kafka consumer, the dead-letter producer and what is in
  flight (consumer.in_flight: per partition, the messages taken in order, each with the future
  of its delivery job). Settling pops the done entries at the head of each partition's queue,
  so the commit watermark never passes a message that is not done;
- the delivery station (consumer.delivery.station → consumer.delivery.deliverer) runs on its own asyncio thread. It
  gets jobs and resolves one future per job; it knows nothing of partitions or commits. Each
  resolved future puts its entry on ``_completed``, which only this thread reads;
- the health server's thread reads three published values (``_subscribed``, ``_halted``,
  ``_tripped``), each an immutable value replaced whole by its owner.

Invariants kept here:
- an offset is committed only once its message was delivered, dead-lettered (the dead letter
  acknowledged by the broker) or filtered;
- at most ``max_pending_messages`` are open (taken, not yet done), and at most
  ``_HELD_FACTOR`` times that are held (open, or done but behind an open one of their partition,
  so not yet committable): past either nothing more is taken until both are back under the
  low-water mark (consumer.backpressure); full for ``_PAUSE_AFTER_S``, every partition is paused
  (polling goes on, so the group membership stays alive). Counting only open work against the
  limit keeps delivery busy while one slow request holds its partition's watermark; the second
  bound keeps memory bounded behind it;
- revoke and shutdown stop submitting, abandon the jobs past each partition's cut (nothing of
  theirs was sent), wait (within ``drain_timeout_s``) for the ones before it, so that the
  watermark reaches every message already on a timeline, dead-letter what failed, commit, and
  leave the rest uncommitted (redelivered).
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from consumer.backpressure import Backpressure
from consumer.commit_policy import CommitPolicy
from consumer.config import Config
from consumer.config import kafka as kafka_settings
from consumer.contacts.directory import (
    BootstrapError,
    ContactDirectory,
    DirectoryUnavailable,
    load_bootstrap_file,
    make_directory,
)
from consumer.contacts.park_record import park_headers, unpark
from consumer.contacts.parking_lot import ContactWaits
from consumer.contacts.waiting_topic import ensure_waiting_topic
from consumer.dead_letters.breaker import TopicBreakers
from consumer.dead_letters.producer import DeadLetterProducer
from consumer.delivery.budget import make_budget
from consumer.delivery.deliverer import Deliverer
from consumer.delivery.freshdesk import FreshdeskClient
from consumer.delivery.station import DeliveryStation, Station
from consumer.health import HealthServer, poll_liveness
from consumer.in_flight import InFlight, Pending
from consumer.job import ABANDONED, Job
from consumer.kafka_close import close_within
from consumer.lag import forget_lag_gauges, update_lag_gauges
from consumer.ledger import make_ledger
from consumer.message import Message
from consumer.metrics import METRICS, Metrics
from consumer.outcomes import EXPECTED_REASONS, Failure, Outcome, Waiting
from consumer.routing import Route, Router
from transforms import FILTER_REASONS, Filtered

__all__ = ["ActivityConsumer", "Counts"]

log = logging.getLogger("consumer.loop")

TP = tuple[str, int]
_BATCH = 500  # messages per consume() call: amortises the call, bounded by max_pending
_GAUGE_INTERVAL_S = 2.0  # lag gauges: often enough for alerts, rare enough to cost nothing
# Messages held (open, or done behind an open one) per max_pending_messages: consumer.backpressure.
_HELD_FACTOR = 4
_PAUSE_AFTER_S = 1.0  # full this long: pause the partitions (consume() must go on)
_BUSY_WAIT_S = 0.005  # the wait for a message while work is out (settle it promptly)


@dataclass(slots=True)
class _TopicMetrics:
    transform: str  # the topic's transform name: a metric label and the Job's
    consumed: Any
    filtered: dict[str, Any]  # by reason: children made on first use, bounded by FILTER_REASONS
    transform_seconds: Any
    # Counted in _take's fast path and added to the counters once per batch (one lock each).
    consumed_n: int = 0
    filtered_n: dict[str, int] = field(default_factory=dict)  # by reason

    def flush(self) -> None:
        if self.consumed_n:
            self.consumed.inc(self.consumed_n)
            self.consumed_n = 0
        if self.filtered_n:
            for reason, n in self.filtered_n.items():
                self.filtered[reason].inc(n)
            self.filtered_n.clear()


@dataclass(slots=True)
class Counts:
    """Messages by how they were settled (the progress line; metrics come from the same events)."""

    consumed: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    filtered: int = 0
    parked: int = 0  # waiting for the contact directory (consumer.contacts.park_record)


class ActivityConsumer:
    """The pipeline. ``make_kafka_consumer``, ``make_station`` and ``make_dead_letters`` let the
    unit tests run it on a fake broker and a fake delivery side."""

    def __init__(self, config: Config, router: Router | None = None, *,
                 progress_interval_s: float = 30.0,
                 pause_after_s: float = _PAUSE_AFTER_S,
                 metrics: Metrics = METRICS,
                 make_kafka_consumer: Callable[[dict[str, Any]], Any] | None = None,
                 make_station: Callable[[], Station] | None = None,
                 make_dead_letters: Callable[[], DeadLetterProducer] | None = None,
                 ensure_topic: Callable[[dict[str, Any], str, int], None] = ensure_waiting_topic):
        self.config = config
        self.metrics = metrics
        self.router = router or Router.from_config(config)
        self.counts = Counts()
        self.in_flight = InFlight()
        self.policy = CommitPolicy(config.processing.commit_interval_s,
                                   config.processing.commit_every_messages)
        self._completed: queue.SimpleQueue[Pending] = queue.SimpleQueue()  # futures that resolved
        self._stop = threading.Event()
        self._paused = False  # the partitions are paused (full for _PAUSE_AFTER_S)
        self._backpressure = Backpressure(config.processing.max_pending_messages,
                                          held_factor=_HELD_FACTOR, pause_after_s=pause_after_s)
        self._progress_interval = progress_interval_s
        self._make_kafka_consumer = make_kafka_consumer or (lambda settings: Consumer(settings))
        self._make_station = make_station or self._delivery_station
        self._make_dead_letters = make_dead_letters or self._dead_letter_producer
        self._group = str(config.kafka["group.id"])
        self._waiting_topic = config.contacts.waiting_topic_for(self._group)
        self._ensure_topic = ensure_topic
        self._jobs: list[tuple[Pending, Job]] = []  # made this round, handed over in one batch
        self._breakers = TopicBreakers(config.dead_letter.breaker)
        self._stopped_topics: set[str] = set()  # topics whose breaker tripped
        self._health: HealthServer | None = None
        self._per_topic: dict[str, _TopicMetrics] = {}
        self.close_abandoned = False  # librdkafka's close outlived close_timeout_s (see _close)
        # Published for the health server's thread (see the module docstring).
        self._subscribed = False
        self._halted: str | None = None
        self._tripped: str | None = None

    def stop(self) -> None:
        """Ask the loop to shut down (safe from a signal handler or another thread)."""
        self._stop.set()

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        p = self.config.processing
        self._start_health_server()
        self._contacts: ContactWaits[tuple[Pending, float, Waiting]] = ContactWaits(
            self._contact_directory(), self.config.contacts)
        self._station = self._make_station()
        self._dlq = self._make_dead_letters()
        self._ensure_topic(self.config.kafka, self._waiting_topic,
                           self.config.contacts.waiting_topic_partitions)
        self._consumer = self._make_kafka_consumer(kafka_settings.consumer_settings(self.config.kafka))
        self._consumer.subscribe([*self.router.topics, self._waiting_topic],
                                 on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_lost)
        self._subscribed = True
        log.info("consuming", extra={"topics": ",".join(self.router.topics), "group": self._group,
                                     "freshdesk": getattr(self._station, "url", "?")})
        last_commit = last_progress = last_gauges = time.monotonic()
        flowing = False  # the last consume() returned messages
        try:
            while not self._stop.is_set():
                # Messages flowing: take what is there without waiting. Else wait for the first
                # one only (consume(n, t) waits for n or t: a quiet topic's event would sit out
                # the timeout), and briefly while work is out, so that its settling, the commit
                # and a resume after backpressure follow within milliseconds. Full
                # (consumer.backpressure): take nothing, wait for results; pause the partitions
                # only when it lasts, so that consume() can go on without taking messages.
                room = self._room()
                settle_wait = 0.0
                if room:
                    if flowing:
                        batch = self._consumer.consume(min(_BATCH, room), 0)
                    else:
                        busy = self.in_flight.pending > 0
                        batch = self._consumer.consume(
                            1, _BUSY_WAIT_S if busy else p.poll_timeout_s)
                    flowing = bool(batch)
                elif self._paused:
                    batch = self._consumer.consume(1, _BUSY_WAIT_S)  # callbacks; nothing paused
                else:
                    batch, settle_wait = [], _BUSY_WAIT_S
                self._take(batch)
                self._release_waiting()
                self._submit()
                self._settle(settle_wait)
                now = time.monotonic()
                self.metrics.last_poll.set(time.time())
                if now - last_gauges >= _GAUGE_INTERVAL_S:
                    self._update_lag_gauges()
                    last_gauges = now
                if self.policy.due(now, last_commit, self.in_flight.settled_since_commit):
                    self._commit()
                    last_commit = now
                if now - last_progress >= self._progress_interval:
                    self._log_progress()
                    last_progress = now
        finally:
            self._shutdown()
        return 0

    def _take(self, batch: list[Any]) -> None:
        """Route and transform a batch; what needs delivery is handed over after it, in one go.

        The fast path: a message its transform's probe filters from the bytes (transforms.probe)
        on a partition that holds nothing else is settled on the spot, its watermark moved past
        it (InFlight.settle_at_head): no Message, no Pending, no decode, and its counters are
        added once per batch. Anywhere else it is taken as usual and waits its turn.
        """
        route_for, settle_at_head = self.router.route_for, self.in_flight.settle_at_head
        per_topic_of, waiting_topic = self._per_topic.get, self._waiting_topic
        debug = log.isEnabledFor(logging.DEBUG)
        taken = fast = 0
        try:
            for m in batch:
                err = m.error()
                if err is not None:
                    if err.fatal():
                        raise KafkaException(err)
                    if err.code() != KafkaError._PARTITION_EOF:
                        log.warning("kafka error: %s", err.str())
                    continue
                taken += 1
                topic = m.topic()
                if topic != waiting_topic:
                    route = route_for(topic)
                    probe = route.probe if route is not None else None
                    if probe is not None:
                        value = m.value()
                        filtered = probe(value) if value is not None else None
                        if filtered is not None:
                            per_topic = per_topic_of(topic) or self._topic_metrics(topic, route)
                            if settle_at_head((topic, m.partition()), m.offset()):
                                fast += 1
                                self._count_filtered(per_topic, topic, filtered, debug, m)
                                continue
                            pending = self.in_flight.take(Message.from_kafka(m))
                            per_topic.consumed_n += 1
                            self._act_on(pending, filtered, per_topic)
                            continue
                self._take_one(Message.from_kafka(m))
        finally:
            self.counts.consumed += taken
            self.counts.filtered += fast
            for per_topic in self._per_topic.values():
                per_topic.flush()

    def _count_filtered(self, per_topic: _TopicMetrics, topic: str, outcome: Filtered,
                        debug: bool, m: Any) -> None:
        """The fast path's bookkeeping of one filtered message (counted as _act_on does)."""
        reason = outcome.reason if outcome.reason in FILTER_REASONS else "other"
        if reason not in per_topic.filtered:
            per_topic.filtered[reason] = self.metrics.filtered.labels(topic, per_topic.transform,
                                                                      reason)
        per_topic.consumed_n += 1
        per_topic.filtered_n[reason] = per_topic.filtered_n.get(reason, 0) + 1
        if debug:
            log.debug("filtered %s/%s@%s: %s: %s", topic, m.partition(), m.offset(),
                      outcome.reason, outcome.detail)
        self._breakers.record_healthy(topic)

    def _take_one(self, msg: Message) -> None:
        """One message the long way: routed, transformed (timed), acted on."""
        pending = self.in_flight.take(msg)
        if msg.topic == self._waiting_topic:
            self._take_parked(pending)
            return
        route = self.router.route_for(msg.topic)
        per_topic = self._per_topic.get(msg.topic) or self._topic_metrics(msg.topic, route)
        started = time.perf_counter()
        outcome = self.router.process(msg, route, self._contacts.lookup)
        per_topic.transform_seconds.observe(time.perf_counter() - started)
        per_topic.consumed_n += 1
        if isinstance(outcome, Waiting):
            self._park(pending, outcome)
        else:
            self._act_on(pending, outcome, per_topic)

    def _act_on(self, pending: Pending, outcome: Outcome, per_topic: _TopicMetrics) -> None:
        """Filtered: settled now; a Failure: dead-lettered; activities: a job for delivery."""
        if isinstance(outcome, Filtered):
            self.counts.filtered += 1
            reason = outcome.reason if outcome.reason in FILTER_REASONS else "other"
            child = per_topic.filtered.get(reason)
            if child is None:
                child = per_topic.filtered[reason] = self.metrics.filtered.labels(
                    pending.source.topic, per_topic.transform, reason)
            child.inc()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("filtered %s: %s: %s", pending.source.where(), outcome.reason,
                          outcome.detail)
            self._breakers.record_healthy(pending.source.topic)
            self.in_flight.settle(pending)
        elif isinstance(outcome, Failure):
            self._dead_letter(pending, outcome)
        else:  # activities (Waiting never comes here: both callers park or wait it first)
            self._jobs.append((pending, Job(pending.source, outcome, per_topic.transform)))

    def _submit(self) -> None:
        if not self._jobs:
            return
        entries, jobs = zip(*self._jobs, strict=True)
        self._jobs = []
        completed = self._completed.put
        for pending, future in zip(entries, self._station.submit(list(jobs)), strict=True):
            pending.future = future
            future.add_done_callback(lambda _, entry=pending: completed(entry))

    # --- events waiting for their contact (consumer.contacts.park_record) ---------------------------------------

    def _park(self, pending: Pending, waiting: Waiting) -> None:
        """Out of its source partition, into the waiting topic; settled once the broker has it."""
        msg = pending.message
        if self._dlq.closed:
            return  # shutdown: stays uncommitted, redelivered
        log.debug("parking %s: %s", msg.where(), waiting.describe())
        pending.writing = True

        def parked() -> None:
            pending.writing = False
            self.counts.parked += 1
            self.metrics.parked.labels(msg.topic).inc()
            self.in_flight.settle(pending)

        self._dlq.produce(self._waiting_topic, msg, park_headers(msg, waiting.refs),
                          on_written=parked, on_error=lambda error: self._park_failed(
                              pending, waiting, error))

    def _park_failed(self, pending: Pending, waiting: Waiting, error: str) -> None:
        log.error("could not park %s in %s (%s); trying again", pending.message.where(),
                  self._waiting_topic, error)
        pending.writing = False
        if not pending.part.forgotten:
            self._park(pending, waiting)

    def _take_parked(self, pending: Pending) -> None:
        """A record of the waiting topic: deliver it if its contact is known now, else wait."""
        parked = unpark(pending.message)
        if isinstance(parked, str):
            self._dead_letter(pending, Failure("decode", parked))
            return
        pending.source = parked.original
        self._retry_parked(pending, parked.since)

    def _retry_parked(self, pending: Pending, since: float) -> None:
        msg = pending.source
        route = self.router.route_for(msg.topic)
        per_topic = self._per_topic.get(msg.topic) or self._topic_metrics(msg.topic, route)
        outcome = self.router.process(msg, route, self._contacts.lookup)
        if not isinstance(outcome, Waiting):
            self._act_on(pending, outcome, per_topic)
        elif time.time() - since >= self.config.contacts.wait_s:
            self._unresolved(pending, outcome.describe())
        elif not self._contacts.wait((pending, since, outcome), outcome.refs, since):
            self._unresolved(pending, f"{outcome.describe()}, and the waiting room is full "
                                      f"(contacts.max_waiting {self.config.contacts.max_waiting})")

    def _release_waiting(self) -> None:
        released, expired = self._contacts.due()
        for pending, since, _ in released:
            if not pending.part.forgotten:
                self._retry_parked(pending, since)
        for pending, _, waiting in expired:
            if not pending.part.forgotten:
                self._unresolved(pending, f"{waiting.describe()}: no event named that customer "
                                          f"within contacts.wait_s "
                                          f"({self.config.contacts.wait_s:g} s)")
        self.metrics.waiting.set(len(self._contacts))

    def _unresolved(self, pending: Pending, why: str) -> None:
        self._dead_letter(pending, Failure("contact_unresolved", why))

    def _held(self) -> tuple[int, int]:
        """Backpressure's two measures, (open, held), without the messages waiting for a contact
        (they are not work this process can do now)."""
        waiting = len(self._contacts)
        return self.in_flight.open - waiting, self.in_flight.pending - waiting

    def _settle(self, wait_s: float = 0.0) -> None:
        """Take in what delivery finished and what the broker acknowledged; move the watermarks.
        ``wait_s``: wait that long for the first result (the loop is full, not polling)."""
        while True:
            try:
                if wait_s:
                    pending = self._completed.get(timeout=wait_s)
                    wait_s = 0.0
                else:
                    pending = self._completed.get_nowait()
            except queue.Empty:
                break
            if pending.part.forgotten:
                continue  # revoked or lost meanwhile: its next owner redoes it
            assert pending.future is not None
            pending.result_taken = True
            result = pending.future.result()
            if result is None:
                self.counts.delivered += 1
                self._breakers.record(pending.message.topic, False)
                self.in_flight.settle(pending)
            elif result is not ABANDONED:
                self._dead_letter(pending, result)  # type: ignore[arg-type]  # a Failure
            # ABANDONED: stays unsettled; its partition is being revoked or we are stopping
        self._dlq.poll()  # runs the dead letters' acknowledgement callbacks
        self.in_flight.advance()

    def _topic_metrics(self, topic: str, route: Route | None) -> _TopicMetrics:
        """The topic's labelled metric children, made once: labels() costs more than a filter."""
        transform = route.subscription.transform if route else "none"
        m = self.metrics
        made = self._per_topic[topic] = _TopicMetrics(
            transform, m.consumed.labels(topic), {},
            m.transform_seconds.labels(transform))
        return made

    # --- dead letters ----------------------------------------------------------------------------

    def _dead_letter(self, pending: Pending, failure: Failure) -> None:
        msg = pending.source  # a parked event's dead letter goes to its own topic's
        expected = failure.reason in EXPECTED_REASONS  # missing data, not a bad deploy
        tripped = self._breakers.tripped(msg.topic) or (
            None if expected else self._breakers.record(msg.topic, True))
        if tripped:
            self._hold(msg, tripped)
            return
        if self._dlq.closed:  # a late failure during shutdown: left uncommitted, redelivered
            log.warning("not dead-lettering %s during shutdown: %s; it stays uncommitted",
                        msg.where(), failure.error)
            return
        log.warning("dead-lettering %s: %s: %s", msg.where(), failure.reason, failure.error,
                    extra={"status": failure.status} if failure.status else None)
        pending.failure, pending.writing = failure, True
        self._dlq.send(msg, failure, on_written=lambda *_: self._dead_lettered(pending),
                       on_error=lambda *args: self._dead_letter_failed(pending, args[-1]))

    def _dead_lettered(self, pending: Pending) -> None:
        assert pending.failure is not None
        pending.writing = False
        self.counts.dead_lettered += 1
        self.metrics.dead_letters.labels(pending.source.topic, pending.failure.reason).inc()
        self.in_flight.settle(pending)

    def _dead_letter_failed(self, pending: Pending, error: str) -> None:
        # Not done, so not committed: try again rather than lose it (librdkafka already retried
        # for message.timeout.ms; the partition waits, backpressure holds the rest).
        log.error("could not write dead letter for %s (%s); trying again",
                  pending.source.where(), error)
        failure = pending.failure
        assert failure is not None
        if pending.part.forgotten or self._dlq.closed:
            pending.writing = False
            return
        self._dlq.send(pending.source, failure, on_written=lambda *_: self._dead_lettered(pending),
                       on_error=lambda *args: self._dead_letter_failed(pending, args[-1]))

    def _hold(self, msg: Message, reason: str) -> None:
        """The topic's breaker tripped: keep the message unsettled (so uncommitted) and stop the topic."""
        if msg.topic not in self._stopped_topics:
            self._stopped_topics.add(msg.topic)
            self._tripped = ", ".join(sorted(self._stopped_topics))
            self._consumer.pause([tp for tp in self._consumer.assignment() if tp.topic == msg.topic])
            self.metrics.halted.labels("dead_letter_breaker").set(1)
            log.error("dead-letter breaker tripped for topic %s: %s. Its partitions are paused and "
                      "nothing more is dead-lettered or committed for it; fix the cause (a bad "
                      "deploy?) and restart", msg.topic, reason)
        # Nothing else to do: never settled, the message holds its partition's watermark.

    # --- backpressure and commits ----------------------------------------------------------------

    def _room(self) -> int:
        """How many messages the loop may take now (consumer.backpressure); pauses the
        partitions when it has been full for a while, resumes them once it is not."""
        open_, held = self._held()
        now = time.monotonic()
        bp = self._backpressure
        was_full = bp.full_since is not None
        room = bp.room(open_, held, now)
        if room:
            if was_full:
                self.metrics.paused.set(0)
                log.debug("taking again: %d messages open, %d held", open_, held)
            if self._paused:
                self._consumer.resume([tp for tp in self._consumer.assignment()
                                       if tp.topic not in self._stopped_topics])
                self._paused = False
                log.info("resumed: %d messages open, %d held", open_, held)
            return room
        if not was_full:
            self.metrics.paused.set(1)
            log.debug("full: %d messages open (limit %d), %d held (limit %d)",
                      open_, bp.limit, held, bp.cap)
        if not self._paused and bp.overdue(now):
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
            log.info("paused: full for %.1fs: %d messages open (limit %d), %d held (limit %d)",
                     bp.pause_after_s, open_, bp.limit, held, bp.cap)
        return 0

    def _commit(self, only: set[TP] | None = None) -> None:
        offsets = self.in_flight.to_commit(only)
        if not offsets:
            return
        started = time.perf_counter()
        try:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        except KafkaException as e:  # e.g. mid-rebalance: the next commit carries it again
            self.metrics.commit_failures.inc()
            log.warning("commit failed: %s", e.args[0].str() if e.args else e)
            return
        finally:
            self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.in_flight.mark_committed(offsets)

    # --- rebalances ------------------------------------------------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if self.close_abandoned:  # a close left behind (_close) came back late: nothing to do
            return
        for tp in partitions:
            self.in_flight.assign((tp.topic, tp.partition))
        consumer.incremental_assign(partitions)
        held_back = [tp for tp in partitions if self._paused or tp.topic in self._stopped_topics]
        if held_back:  # keep the backpressure and breaker promises for newcomers too
            consumer.pause(held_back)
        self.metrics.rebalances.labels("assigned").inc()
        self.metrics.assigned_partitions.set(len(self.in_flight.parts))
        log.info("assigned", extra={"partitions": _names(partitions)})

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if self.close_abandoned:
            return
        tps = {(tp.topic, tp.partition) for tp in partitions}
        abandoned = self._drain(tps)
        self._commit(only=tps)
        self._forget(tps)
        self.metrics.rebalances.labels("revoked").inc()
        log.info("revoked", extra={"partitions": _names(partitions), "abandoned": abandoned})

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if self.close_abandoned:
            return
        tps = {(tp.topic, tp.partition) for tp in partitions}
        self._forget(tps)  # someone else owns them now: no drain, no commit
        self.metrics.rebalances.labels("lost").inc()
        log.warning("partitions lost", extra={"partitions": _names(partitions)})

    def _forget(self, tps: set[TP]) -> None:
        unfinished: list[Pending] = []
        for tp in tps:
            unfinished += self.in_flight.forget(tp)
            self._forget_gauges(tp)
        self._station.abandon(p.future for p in unfinished if p.future is not None)
        self._contacts.drop(lambda item: item[0].part.forgotten)  # their next owner re-reads them
        self.metrics.assigned_partitions.set(len(self.in_flight.parts))

    def _drain(self, tps: set[TP] | None) -> int:
        """Revoke (of ``tps``) or shutdown (None): stop what sent nothing, wait for the rest.

        Messages after each partition's cut (consumer.in_flight.InFlight.beyond_cut) stop at
        once; those before it are waited for until ``drain_timeout_s``, then abandoned too.

        Returns how many messages are left unsettled (uncommitted: redelivered later).
        """
        deadline = time.monotonic() + self.config.processing.drain_timeout_s
        self._settle()
        self._station.abandon(_futures(self.in_flight.beyond_cut(tps)))
        while True:
            self._settle()
            on_the_way = [p for p in self.in_flight.unfinished(tps) if p.can_still_finish]
            left = deadline - time.monotonic()
            if not on_the_way or left <= 0:
                self._station.abandon(_futures(self.in_flight.unfinished(tps)))
                break
            futures = [p.future for p in on_the_way if p.future is not None and not p.writing]
            if futures:
                concurrent.futures.wait(futures, min(left, 0.05), concurrent.futures.FIRST_COMPLETED)
            else:  # only dead letters awaiting the broker's acknowledgement
                self._dlq.poll(min(left, 0.05))
        return self.in_flight.pending if tps is None else self.in_flight.count(tps)

    # --- start and stop --------------------------------------------------------------------------

    def _delivery_station(self) -> DeliveryStation:
        async def make() -> Deliverer:
            client = FreshdeskClient(self.config.freshdesk)
            budget = make_budget(self.config.freshdesk, self.config.ledger, self.metrics)
            return Deliverer(client, self.config.freshdesk, budget=budget,
                             ledger=make_ledger(self.config.ledger), metrics=self.metrics,
                             on_halt=self._set_halted)
        return DeliveryStation(make)

    def _contact_directory(self) -> ContactDirectory:
        directory = make_directory(self.config.contacts, self.config.ledger)
        path = self.config.contacts.bootstrap_file
        if path is not None:
            try:
                loaded = load_bootstrap_file(directory, path)
                log.info("contact directory bootstrapped", extra={"file": str(path),
                                                                  "links": loaded.links})
            except (BootstrapError, OSError, DirectoryUnavailable) as e:
                log.error("contact directory bootstrap from %s: %s (what could be read was "
                          "learned; the streams fill in the rest)", path, e)
        return directory

    def _set_halted(self, reason: str | None) -> None:
        self._halted = reason  # from the delivery thread: one immutable value, replaced whole

    def _dead_letter_producer(self) -> DeadLetterProducer:
        return DeadLetterProducer(self.config.kafka, self.config.dead_letter.topic_for, self._group)

    def _start_health_server(self) -> None:
        if not self.config.metrics.enabled:
            return
        self._health = HealthServer.from_settings(
            self.config.metrics, registry=self.metrics.registry,
            liveness=poll_liveness(self.config.metrics.liveness_timeout_s, self.metrics.registry),
            readiness=self.readiness).start()
        log.info("metrics", extra={"port": self._health.port, "paths": "/metrics /healthz /readyz"})

    def _shutdown(self) -> None:
        log.info("shutting down: draining in-flight work",
                 extra={"pending": self.in_flight.pending,
                        "deadline_s": self.config.processing.drain_timeout_s})
        abandoned = self._drain(None)
        if left := self._dlq.close(5.0):  # runs the last acknowledgement callbacks
            log.error("%d dead letters unacknowledged at shutdown; their messages stay "
                      "uncommitted and will be redelivered", left)
        self._settle()  # late results: delivered ones count, failures stay uncommitted
        self._commit()
        try:
            self._close()
        finally:
            self._station.close()
            self._contacts.close()
            if self._health is not None:
                self._health.stop()
        self._log_progress()
        log.info("stopped", extra={"abandoned": abandoned})

    def _close(self) -> None:
        """Leave the group within ``close_timeout_s`` (consumer.kafka_close says why it must)."""
        if not close_within(self._consumer, self.config.processing.close_timeout_s):
            self.close_abandoned = True

    # --- health and gauges -----------------------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        """Ready: subscribed to the group, delivery not halted, no breaker tripped (server thread).

        Owning partitions is not a condition: a replica beyond the partition count, or one
        waiting out a rebalance, is healthy and ready to take over; what it owns is the
        ``assigned_partitions`` metric.
        """
        if not self._subscribed:
            return False, "not subscribed yet"
        if (halted := self._halted) is not None:
            return False, f"delivery halted: {halted}"
        if (tripped := self._tripped) is not None:
            return False, f"dead-letter breaker tripped for {tripped}"
        return True, "ok"

    def _update_lag_gauges(self) -> None:
        self.metrics.pending.set(self.in_flight.pending)
        update_lag_gauges(self.metrics, self._consumer, self.in_flight.parts)

    def _forget_gauges(self, tp: TP) -> None:
        forget_lag_gauges(self.metrics, tp)

    def _log_progress(self) -> None:
        c = self.counts
        log.info("progress", extra={"consumed": c.consumed, "delivered": c.delivered,
                                    "dead_lettered": c.dead_lettered, "filtered": c.filtered,
                                    "pending": self.in_flight.pending, "paused": self._paused,
                                    "halted": self._halted is not None})


def _futures(entries: Iterable[Pending]) -> Iterable[concurrent.futures.Future[Any]]:
    return (p.future for p in entries if p.future is not None)


def _names(partitions: list[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}/{tp.partition}" for tp in partitions)
