"""The consumer: poll → route → transform → deliver → settle → commit, top to bottom in this file.

Threads: this loop (the poll thread) owns the Kafka consumer, the dead-letter producer and the
offset book; the delivery station runs on an asyncio loop in a second thread and reports each
finished message back through ``self._settled``. Nothing else is shared.

Invariants kept here:
- an offset is committed only once its message was delivered, dead-lettered (and the dead
  letter acknowledged by the broker) or filtered; each partition commits its contiguous
  watermark, never past an unsettled message;
- at most ``max_pending_messages`` are held: above it every partition is paused (polling goes
  on, so the group membership stays alive) until half of them have settled;
- revoke and shutdown drain in-flight work within ``drain_timeout_s``, abandon the rest
  (uncommitted, so redelivered), and commit synchronously.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from consumer.breaker import TopicBreakers
from consumer.bridge import AsyncBridge
from consumer.config import Config
from consumer.dead_letter import DeadLetterProducer, Failure
from consumer.delivery import Deliverer, Job
from consumer.freshdesk import FreshdeskClient
from consumer.health import HealthServer, poll_liveness
from consumer.lag import partition_lag
from consumer.ledger import make_ledger
from consumer.message import Message
from consumer.metrics import METRICS, Metrics
from consumer.offsets import CommitPolicy, OffsetBook
from consumer.routing import Route, Router
from transforms import Filtered

__all__ = ["ActivityConsumer", "Counts"]

log = logging.getLogger("consumer.loop")

TP = tuple[str, int]
_BATCH = 500  # messages per consume() call: amortises the call, bounded by max_pending
_GAUGE_INTERVAL_S = 2.0  # lag gauges: often enough for alerts, rare enough to cost nothing


@dataclass(frozen=True, slots=True)
class _TopicMetrics:
    transform: str  # the topic's transform name: a metric label and the Job's
    consumed: Any
    filtered: Any
    transform_seconds: Any


@dataclass(slots=True)
class Counts:
    """Messages by how they were settled (the progress line; metrics come from the same events)."""

    consumed: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    filtered: int = 0


class ActivityConsumer:
    def __init__(self, config: Config, router: Router | None = None, *,
                 progress_interval_s: float = 30.0, transport: Any = None,
                 metrics: Metrics = METRICS):
        self.config = config
        self.metrics = metrics
        self.router = router or Router.from_config(config)
        self.counts = Counts()
        self.book = OffsetBook()
        self.policy = CommitPolicy(config.processing.commit_interval_s,
                                   config.processing.commit_every_messages)
        self._settled: queue.SimpleQueue[tuple[Message, Failure | None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._paused = False
        self._progress_interval = progress_interval_s
        self._transport = transport
        self._group = str(config.kafka["group.id"])
        self._breakers = TopicBreakers(config.dead_letter.breaker)
        self._stopped_topics: set[str] = set()  # topics whose breaker tripped
        self._health: HealthServer | None = None
        self._per_topic: dict[str, _TopicMetrics] = {}
        self.close_abandoned = False  # librdkafka's close outlived close_timeout_s (see _close)

    def stop(self) -> None:
        """Ask the loop to shut down (safe from a signal handler or another thread)."""
        self._stop.set()

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        p = self.config.processing
        if self.config.metrics.enabled:
            self._health = HealthServer.from_settings(
                self.config.metrics, registry=self.metrics.registry,
                liveness=poll_liveness(self.config.metrics.liveness_timeout_s,
                                       self.metrics.registry),
                readiness=self.readiness).start()
            log.info("metrics", extra={"port": self._health.port,
                                       "paths": "/metrics /healthz /readyz"})
        self._bridge = AsyncBridge().start()
        self._deliverer = self._bridge.run(self._make_deliverer())
        self._dlq = DeadLetterProducer(self.config.kafka, self.config.dead_letter.topic_for,
                                       self._group)
        self._consumer = Consumer(self._consumer_settings())
        self._consumer.subscribe(self.router.topics, on_assign=self._on_assign,
                                 on_revoke=self._on_revoke, on_lost=self._on_lost)
        log.info("consuming", extra={"topics": ",".join(self.router.topics),
                                     "group": self._group, "freshdesk": self._deliverer.client.url})
        last_commit = last_progress = last_gauges = time.monotonic()
        try:
            while not self._stop.is_set():
                room = p.max_pending_messages - self.book.pending()
                for m in self._consumer.consume(max(1, min(_BATCH, room)), p.poll_timeout_s):
                    self._take(m)
                self._settle_finished()
                self._dlq.poll()
                self._apply_backpressure()
                now = time.monotonic()
                self.metrics.last_poll.set(time.time())
                if now - last_gauges >= _GAUGE_INTERVAL_S:
                    self._update_lag_gauges()
                    last_gauges = now
                if self.policy.due(now, last_commit, self.book.settled_since_commit):
                    self._commit()
                    last_commit = now
                if now - last_progress >= self._progress_interval:
                    self._log_progress()
                    last_progress = now
        finally:
            self._shutdown()
        return 0

    def _take(self, m: Any) -> None:
        err = m.error()
        if err is not None:
            if err.fatal():
                raise KafkaException(err)
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("kafka error: %s", err.str())
            return
        msg = Message.from_kafka(m)
        self.counts.consumed += 1
        self.book.take(msg.tp, msg.offset, (msg.timestamp_ms or 0) / 1000)
        route = self.router.route_for(msg.topic)
        per_topic = self._per_topic.get(msg.topic) or self._topic_metrics(msg.topic, route)
        started = time.perf_counter()
        outcome = self.router.process(msg, route)
        per_topic.transform_seconds.observe(time.perf_counter() - started)
        per_topic.consumed.inc()
        if isinstance(outcome, Filtered):
            self.counts.filtered += 1
            per_topic.filtered.inc()
            self._breakers.record(msg.topic, False)
            self.book.done(msg.tp, msg.offset)
        elif isinstance(outcome, Failure):
            self._dead_letter(msg, outcome)
        else:
            self._bridge.call_soon(self._deliverer.start, Job(msg, list(outcome), per_topic.transform))

    def _topic_metrics(self, topic: str, route: Route | None) -> _TopicMetrics:
        """The topic's labelled metric children, made once: labels() costs more than a filter."""
        transform = route.subscription.transform if route else "none"
        m = self.metrics
        made = self._per_topic[topic] = _TopicMetrics(
            transform, m.consumed.labels(topic), m.filtered.labels(topic, transform),
            m.transform_seconds.labels(transform))
        return made

    def _settle_finished(self, wait: float = 0.0) -> None:
        """Settle what the delivery station finished; optionally wait a little for the first."""
        try:
            msg, failure = self._settled.get(timeout=wait) if wait else self._settled.get_nowait()
            while True:
                if failure is None:
                    self.counts.delivered += 1
                    self._breakers.record(msg.topic, False)
                    self.book.done(msg.tp, msg.offset)
                else:
                    self._dead_letter(msg, failure)
                msg, failure = self._settled.get_nowait()
        except queue.Empty:
            pass

    def _dead_letter(self, msg: Message, failure: Failure) -> None:
        tripped = self._breakers.tripped(msg.topic) or self._breakers.record(msg.topic, True)
        if tripped:
            self._hold(msg, tripped)
            return
        log.warning("dead-lettering %s: %s: %s", msg.where(), failure.reason, failure.error,
                    extra={"status": failure.status} if failure.status else None)
        self._dlq.send(msg, failure, on_written=self._dead_lettered,
                       on_error=self._dead_letter_failed)

    def _hold(self, msg: Message, reason: str) -> None:
        """The topic's breaker tripped: keep the message unsettled (so uncommitted) and stop the topic."""
        if msg.topic not in self._stopped_topics:
            self._stopped_topics.add(msg.topic)
            self._consumer.pause([tp for tp in self._consumer.assignment() if tp.topic == msg.topic])
            self.metrics.halted.labels("dead_letter_breaker").set(1)
            log.error("dead-letter breaker tripped for topic %s: %s. Its partitions are paused and "
                      "nothing more is dead-lettered or committed for it; fix the cause (a bad "
                      "deploy?) and restart", msg.topic, reason)
        # Nothing else to do: never settled, the message holds its partition's watermark.

    def _dead_lettered(self, msg: Message, failure: Failure) -> None:
        self.counts.dead_lettered += 1
        self.metrics.dead_letters.labels(msg.topic, failure.reason).inc()
        self.book.done(msg.tp, msg.offset)

    def _dead_letter_failed(self, msg: Message, failure: Failure, error: str) -> None:
        # Not done, so not committed: try again rather than lose it (librdkafka already retried
        # for message.timeout.ms; the partition waits, backpressure holds the rest).
        log.error("could not write dead letter for %s (%s); trying again", msg.where(), error)
        self._dlq.send(msg, failure, on_written=self._dead_lettered,
                       on_error=self._dead_letter_failed)

    def _apply_backpressure(self) -> None:
        pending, limit = self.book.pending(), self.config.processing.max_pending_messages
        if not self._paused and pending >= limit:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
            self.metrics.paused.set(1)
            log.info("paused: %d messages pending (limit %d)", pending, limit)
        elif self._paused and pending <= limit // 2:
            self._consumer.resume([tp for tp in self._consumer.assignment()
                                   if tp.topic not in self._stopped_topics])
            self._paused = False
            self.metrics.paused.set(0)
            log.info("resumed: %d messages pending", pending)

    def _commit(self, only: set[TP] | None = None) -> None:
        offsets = self.book.to_commit(only)
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
        self.book.mark_committed(offsets)

    # --- rebalances ------------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.close_abandoned:  # a close left behind (_close) came back late: nothing to do
            return
        tps = {(tp.topic, tp.partition) for tp in partitions}
        for tp in tps:
            self.book.assign(tp)
        self._bridge.call_soon(self._deliverer.reopen, tps)
        consumer.incremental_assign(partitions)
        held_back = [tp for tp in partitions if self._paused or tp.topic in self._stopped_topics]
        if held_back:  # keep the backpressure and breaker promises for newcomers too
            consumer.pause(held_back)
        self.metrics.rebalances.labels("assigned").inc()
        log.info("assigned", extra={"partitions": _names(partitions)})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.close_abandoned:
            return
        tps = {(tp.topic, tp.partition) for tp in partitions}
        abandoned = self._drain(tps)
        self._commit(only=tps)
        for tp in tps:
            self.book.forget(tp)
            self._forget_gauges(tp)
        self.metrics.rebalances.labels("revoked").inc()
        log.info("revoked", extra={"partitions": _names(partitions), "abandoned": abandoned})

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.close_abandoned:
            return
        tps = {(tp.topic, tp.partition) for tp in partitions}
        self._bridge.run(self._call(self._deliverer.cancel, tps))  # someone else owns them: no commit
        for tp in tps:
            self.book.forget(tp)
            self._forget_gauges(tp)
        self.metrics.rebalances.labels("lost").inc()
        log.warning("partitions lost", extra={"partitions": _names(partitions)})

    def _drain(self, tps: set[TP] | None) -> int:
        """Revoke/shutdown of ``tps`` (None: all): finish requests on the wire, settle, abandon the rest.

        Returns how many messages were left unsettled (uncommitted: redelivered later).
        """
        deadline = time.monotonic() + self.config.processing.drain_timeout_s
        self._bridge.run(self._call(self._deliverer.quiesce, tps))
        while ((self._deliverer.in_flight(tps) or self._dlq.unacknowledged)
               and time.monotonic() < deadline):
            self._settle_finished(wait=0.05)
            self._dlq.poll()
        self._settle_finished()
        if self._deliverer.in_flight(tps):
            self._bridge.run(self._call(self._deliverer.cancel,
                                        set(self._deliverer.jobs) if tps is None else tps))
        return self.book.pending() if tps is None else sum(self.book.pending(t) for t in tps)

    @staticmethod
    async def _call(fn: Any, *args: Any) -> Any:
        """Run a Deliverer method on its own loop (the poll thread never touches its state)."""
        return fn(*args)

    # --- start and stop --------------------------------------------------------------------------

    async def _make_deliverer(self) -> Deliverer:
        client = FreshdeskClient(self.config.freshdesk, transport=self._transport)
        return Deliverer(client, self.config.freshdesk,
                         settle=lambda job, failure: self._settled.put((job.message, failure)),
                         ledger=make_ledger(self.config.ledger), metrics=self.metrics)

    def _consumer_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "partition.assignment.strategy": "cooperative-sticky",
            "auto.offset.reset": "earliest",
            "logger": logging.getLogger("librdkafka.consumer"),  # our format, our redaction
        }
        settings.update(self.config.kafka)
        # Not negotiable: offsets are committed by this loop, only for settled messages.
        settings.update({"enable.auto.commit": False, "enable.auto.offset.store": False})
        return settings

    def _shutdown(self) -> None:
        log.info("shutting down: draining in-flight work",
                 extra={"pending": self.book.pending(),
                        "deadline_s": self.config.processing.drain_timeout_s})
        abandoned = self._drain(None)
        if left := self._dlq.close(5.0):
            log.error("%d dead letters unacknowledged at shutdown; their messages stay "
                      "uncommitted and will be redelivered", left)
        self._settle_finished()
        self._commit()
        self._close()
        self._bridge.run(self._deliverer.client.aclose(), timeout=5)
        self._bridge.run(self._deliverer.ledger.aclose(), timeout=5)
        self._bridge.stop()
        if self._health is not None:
            self._health.stop()
        self._log_progress()
        log.info("stopped", extra={"abandoned": abandoned})

    def _close(self) -> None:
        """Leave the group (revoking what is left), within ``close_timeout_s``.

        librdkafka's close has no timeout and can wait for a coordinator indefinitely. It runs on
        a helper thread while this one waits (so the revoke callback it calls still runs alone);
        past the deadline it is left behind, its stacks are printed, and the process exits
        without it: every offset that can be committed was committed just before.
        """
        timeout = self.config.processing.close_timeout_s
        started = time.monotonic()
        failed: list[BaseException] = []

        def close() -> None:
            try:
                self._consumer.close()
            except BaseException as e:  # raised here, on the poll thread, as before
                failed.append(e)

        closer = threading.Thread(target=close, name="kafka-close", daemon=True)
        closer.start()
        closer.join(timeout)
        if not closer.is_alive():
            if failed:
                raise failed[0]
            log.info("left the group", extra={"seconds": round(time.monotonic() - started, 2)})
            return
        self.close_abandoned = True
        log.error("the Kafka consumer did not leave the group within %gs; exiting without it "
                  "(offsets are committed; the group moves its partitions after "
                  "session.timeout.ms). Its threads' stacks follow on stderr", timeout)
        with contextlib.suppress(OSError, ValueError, AttributeError):  # no real stderr
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)

    def readiness(self) -> tuple[bool, str]:
        """Ready: assigned partitions, delivery not halted, no breaker tripped (server thread)."""
        if not getattr(self, "_deliverer", None) or not self.book.partitions():
            return False, "no partitions assigned (yet)"
        if not self._deliverer.gate.is_open:
            return False, f"delivery halted: {self._deliverer.gate.reason}"
        if self._stopped_topics:
            return False, f"dead-letter breaker tripped for {', '.join(sorted(self._stopped_topics))}"
        return True, "ok"

    def _update_lag_gauges(self) -> None:
        """Lag in messages (end of partition - first unsettled) and seconds (oldest pending's age)."""
        now = time.time()
        self.metrics.pending.set(self.book.pending())
        parts = self.book.partitions()
        lags = partition_lag(self._consumer, list(parts),
                             {tp: part.next_unsettled for tp, part in parts.items()})
        for tp, part in parts.items():
            labels = (tp[0], str(tp[1]))
            if tp in lags:  # unknown until the partition's first fetch: keep the last value
                self.metrics.lag_messages.labels(*labels).set(lags[tp])
            oldest = part.oldest_timestamp
            self.metrics.time_lag_seconds.labels(*labels).set(
                max(0.0, now - oldest) if oldest else 0.0)

    def _forget_gauges(self, tp: TP) -> None:
        for gauge in (self.metrics.lag_messages, self.metrics.time_lag_seconds):
            with contextlib.suppress(KeyError):
                gauge.remove(tp[0], str(tp[1]))

    def _log_progress(self) -> None:
        c = self.counts
        log.info("progress", extra={"consumed": c.consumed, "delivered": c.delivered,
                                    "dead_lettered": c.dead_lettered, "filtered": c.filtered,
                                    "pending": self.book.pending(), "paused": self._paused,
                                    "halted": not self._deliverer.gate.is_open})


def _names(partitions: list[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}/{tp.partition}" for tp in partitions)
