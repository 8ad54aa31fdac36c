"""Fakes for running ActivityConsumer without a broker or HTTP: a scripted Kafka consumer, a
delivery station whose futures the test resolves, and a dead-letter producer that acknowledges
on poll. Everything runs on the test's thread, so each scenario is deterministic."""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from consumer import app
from consumer.config import parse_config
from consumer.job import ABANDONED, Job, Result
from consumer.loop import ActivityConsumer
from consumer.metrics import Metrics
from consumer.routing import Router

TOPIC = "orders"


class FakeMessage:
    def __init__(self, partition: int, offset: int, value: bytes | None, topic: str = TOPIC,
                 headers: list[tuple[str, bytes]] | None = None):
        self._p, self._o, self._v, self._t, self._h = partition, offset, value, topic, headers

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def key(self) -> None:
        return None

    def value(self) -> bytes | None:
        return self._v

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._h

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


def order(offset: int, email: str = "rachel@example.com", partition: int = 0) -> FakeMessage:
    event = {"event_id": f"e-{partition}-{offset}", "type": "order.created",
             "order": {"id": f"o-{partition}-{offset}", "total": "10.00", "currency": "USD"},
             "customer": {"email": email}, "occurred_at": "2026-01-01T00:00:00Z"}
    return FakeMessage(partition, offset, orjson.dumps(event))


def garbage(offset: int, partition: int = 0) -> FakeMessage:
    return FakeMessage(partition, offset, b"{not json")


Step = Callable[["FakeKafka"], Sequence[FakeMessage]]


class FakeKafka:
    """Each consume() runs the next step of the script; when the script ends, the loop is stopped."""

    def __init__(self, steps: Iterable[Step]):
        self.steps = list(steps)
        self.pipeline: ActivityConsumer | None = None
        self.callbacks: dict[str, Any] = {}
        self.assigned: set[tuple[str, int]] = set()
        self.paused: set[tuple[str, int]] = set()
        self.commits: list[dict[tuple[str, int], int]] = []
        self.consumed: list[tuple[int, float]] = []  # (num_messages, timeout) of every consume()
        self.closed = False

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks

    def consume(self, num_messages: int, timeout: float) -> Sequence[FakeMessage]:
        self.consumed.append((num_messages, timeout))
        if not self.steps:
            assert self.pipeline is not None
            self.pipeline.stop()
            return []
        return self.steps.pop(0)(self)

    # what the steps use
    def assign(self, *partitions: int, topic: str = TOPIC) -> None:
        self.callbacks["on_assign"](self, [TopicPartition(topic, p) for p in partitions])

    def revoke(self, *partitions: int) -> None:
        self.callbacks["on_revoke"](self, [TopicPartition(TOPIC, p) for p in partitions])
        self.assigned -= {(TOPIC, p) for p in partitions}

    def lose(self, *partitions: int) -> None:
        self.callbacks["on_lost"](self, [TopicPartition(TOPIC, p) for p in partitions])
        self.assigned -= {(TOPIC, p) for p in partitions}

    # the consumer API the loop calls
    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned |= {(tp.topic, tp.partition) for tp in partitions}

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in sorted(self.assigned)]

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        self.commits.append({(tp.topic, tp.partition): tp.offset for tp in offsets})

    def committed_now(self) -> dict[tuple[str, int], int]:
        merged: dict[tuple[str, int], int] = {}
        for c in self.commits:
            merged.update(c)
        return merged

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float | None = None,
                              cached: bool = False) -> tuple[int, int]:
        return (0, 100)

    def close(self) -> None:
        self.closed = True


class FakeStation:
    """Jobs wait until the test resolves them. ``on_the_wire(offset, result)`` marks a job's
    request as sent (its future running); its answer arrives with the next abandon() call, as a
    request finishes while a revoke waits for it. abandon() ends the other jobs ABANDONED."""

    url = "fake://freshdesk"

    def __init__(self) -> None:
        self.jobs: dict[tuple[int, int], tuple[Job, concurrent.futures.Future[Result]]] = {}
        self.answers: dict[tuple[int, int], Result] = {}
        self.abandoned: list[int] = []
        self.closed = False

    def submit(self, jobs: Sequence[Job]) -> list[concurrent.futures.Future[Result]]:
        futures = []
        for job in jobs:
            future: concurrent.futures.Future[Result] = concurrent.futures.Future()
            self.jobs[(job.message.partition, job.message.offset)] = (job, future)
            futures.append(future)
        return futures

    def resolve(self, offset: int, result: Result = None, partition: int = 0) -> None:
        self.jobs[(partition, offset)][1].set_result(result)

    def on_the_wire(self, offset: int, result: Result = None, partition: int = 0,
                    sent: bool = True) -> None:
        """``sent=False``: the job still waits (e.g. for its contact) but will finish too."""
        if sent:
            self.jobs[(partition, offset)][1].set_running_or_notify_cancel()
        self.answers[(partition, offset)] = result

    def abandon(self, futures: Iterable[concurrent.futures.Future[Result]]) -> None:
        for future in futures:
            if not future.running() and not future.done():
                if any(self.jobs[w][1] is future for w in self.answers):
                    raise AssertionError("a job the test said would finish was abandoned")
                self.abandoned.append(next(o for (_, o), (_, f) in self.jobs.items() if f is future))
                future.set_result(ABANDONED)
        for where, result in list(self.answers.items()):  # requests on the wire answer now
            del self.answers[where]
            self.jobs[where][1].set_result(result)

    def close(self) -> None:
        self.closed = True


class FakeDeadLetters:
    """Acknowledges what was sent on the next poll (or close); ``on_close`` runs first in close."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.produced: list[tuple[str, int, dict[str, Any]]] = []
        self._waiting: list[Callable[[], None]] = []
        self.closed = False
        self.on_close: Callable[[], None] | None = None

    def send(self, msg: Any, failure: Any, on_written: Any, on_error: Any, shrink: int = 0) -> None:
        assert not self.closed, "send() after close()"
        self.sent.append((msg.offset, failure.reason))
        self._waiting.append(lambda: on_written(msg, failure))

    def produce(self, topic: str, msg: Any, headers: Any, on_written: Any, on_error: Any) -> None:
        assert not self.closed, "produce() after close()"
        self.produced.append((topic, msg.offset, dict(headers)))
        self._waiting.append(on_written)

    @property
    def unacknowledged(self) -> int:
        return len(self._waiting)

    def poll(self, timeout: float = 0) -> None:
        waiting, self._waiting = self._waiting, []
        for ack in waiting:
            ack()

    def close(self, timeout: float) -> int:
        self.poll()
        self.closed = True
        if self.on_close is not None:
            self.on_close()
        return 0


def pipeline(kafka: FakeKafka, station: FakeStation, dead_letters: FakeDeadLetters,
             transform: str = "orders", contacts: dict[str, Any] | None = None,
             dead_letter: dict[str, Any] | None = None, learn_only: bool = False,
             pause_after_s: float = 0.0, **processing: Any) -> ActivityConsumer:
    config = parse_config({
        "kafka": {"bootstrap.servers": "fake:9092", "group.id": "g"},
        "freshdesk": {"base_url": "http://127.0.0.1:1", "api_key": "k"},
        "processing": {"commit_interval_s": 1000, "commit_every_messages": 1_000_000,
                       "drain_timeout_s": 5, **processing},
        "metrics": {"enabled": False},
        "contacts": contacts or {},
        "dead_letter": dead_letter or {},
        "subscriptions": [{"topic": TOPIC, "transform": transform, "learn_only": learn_only}],
    }, "<test>", {})
    # pause_after_s 0: a full loop pauses its partitions at once and goes on calling consume(),
    # which is where these tests' steps run.
    metrics = Metrics(CollectorRegistry())
    wiring = dataclasses.replace(app.wiring(config, metrics),
                                 kafka_consumer=lambda _settings: kafka,
                                 station=lambda _readiness: station,
                                 dead_letters=lambda: dead_letters,
                                 ensure_topic=lambda *_: None)
    consumer = ActivityConsumer(config, Router.from_config(config), wiring, metrics=metrics,
                                pause_after_s=pause_after_s)
    kafka.pipeline = consumer
    return consumer
