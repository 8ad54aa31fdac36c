"""consumer.kafka_health and the log's repeat filter: what cannot fetch is said, once."""

from __future__ import annotations

import logging

import orjson
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

from consumer.kafka_health import KafkaHealth
from consumer.logs import Repeats
from consumer.metrics import Metrics
from consumer.readiness import Readiness


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _health() -> tuple[KafkaHealth, Readiness, Metrics, Clock]:
    clock, readiness, metrics = Clock(), Readiness(), Metrics(CollectorRegistry())
    readiness.set("starting", None)
    return KafkaHealth(readiness, metrics, grace_s=15, clock=clock), readiness, metrics, clock


def _stats(state: str, group: str = "up") -> str:
    return orjson.dumps({"brokers": {"127.0.0.1:9092/1": {"name": "b1", "state": state, "nodeid": 1}},
                         "cgrp": {"state": group}}).decode()


def test_refused_credentials_make_it_unready_after_the_grace_and_a_fetch_ends_it():
    health, readiness, metrics, clock = _health()
    health.error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: bad password"))
    clock.now = 14.9
    health.check()
    assert readiness.check() == (True, "ok"), "within the grace: a blip is not an outage"
    clock.now = 15
    health.check()
    ready, why = readiness.check()
    assert not ready and "refuse our credentials" in why and "bad password" in why
    assert metrics.registry.get_sample_value("activity_consumer_kafka_unhealthy",
                                             {"cause": "authentication"}) == 1
    health.healthy()  # e.g. an assignment
    assert readiness.check() == (True, "ok")
    assert metrics.registry.get_sample_value("activity_consumer_kafka_unhealthy",
                                             {"cause": "authentication"}) == 0


def test_not_ready_from_the_start_until_the_brokers_first_answer():
    # Wrong credentials from the first second: the pod must never be Ready, not Ready for the
    # grace and then not (the kubelet saw exactly that on a real node).
    clock, readiness, metrics = Clock(), Readiness(), Metrics(CollectorRegistry())
    readiness.set("starting", "subscribed; waiting for the Kafka brokers' first answer")
    health = KafkaHealth(readiness, metrics, grace_s=15, clock=clock)
    health.error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: bad password"))
    health.stats(_stats("AUTH_REQ"))
    clock.now = 5
    health.check()
    assert readiness.check() == (False, "subscribed; waiting for the Kafka brokers' first answer")
    clock.now = 15
    health.check()
    ready, why = readiness.check()
    assert not ready and "refuse our credentials" in why, "after the grace: the cause, by name"
    health.stats(_stats("UP"))
    assert readiness.check() == (True, "ok")


def test_an_idle_member_of_a_joined_group_is_ready_from_the_statistics():
    clock, readiness, metrics = Clock(), Readiness(), Metrics(CollectorRegistry())
    readiness.set("starting", "subscribed; waiting for the Kafka brokers' first answer")
    health = KafkaHealth(readiness, metrics, grace_s=15, clock=clock)
    health.stats(_stats("UP", group="wait-join"))
    assert not readiness.check()[0], "the group is not joined yet"
    health.stats(_stats("UP"))
    assert readiness.check() == (True, "ok")


def test_statistics_tell_brokers_down_without_an_error_and_up_again():
    health, readiness, _, clock = _health()
    health.stats(_stats("CONNECT"))
    clock.now = 20
    health.check()
    assert "cannot reach the Kafka brokers" in readiness.check()[1]
    health.stats(_stats("UP", group="wait-join"))
    assert not readiness.check()[0], "a broker up, the group not joined: not yet"
    health.stats(_stats("UP"))
    assert readiness.check() == (True, "ok")


def test_other_errors_are_logged_not_counted(caplog):
    health, readiness, _, clock = _health()
    with caplog.at_level(logging.WARNING, logger="consumer.kafka"):
        health.error(KafkaError(KafkaError._MSG_TIMED_OUT, "a message timed out"))
    clock.now = 100
    health.check()
    assert readiness.check() == (True, "ok") and "a message timed out" in caplog.text


def test_the_same_line_again_is_counted_and_told_once_per_interval():
    clock = Clock()
    repeats = Repeats(interval_s=30, clock=clock)

    def line(msg: str) -> logging.LogRecord:
        return logging.makeLogRecord({"name": "librdkafka.consumer", "levelno": logging.ERROR,
                                      "levelname": "ERROR", "msg": msg})

    passed = [repeats.filter(line(f"127.0.0.1:1/bootstrap: Connect failed (after {n}ms)"))
              for n in range(20)]
    assert passed == [True] + [False] * 19, "numbers aside, it is the same line"
    clock.now = 30
    later = line("127.0.0.1:1/bootstrap: Connect failed (after 3ms)")
    assert repeats.filter(later) and later.repeated == 19  # type: ignore[attr-defined]
    assert repeats.filter(line("another error")), "a different line goes through"
    info = logging.makeLogRecord({"levelno": logging.INFO, "msg": "progress"})
    assert all(repeats.filter(info) for _ in range(3)), "only warnings and errors are held"
