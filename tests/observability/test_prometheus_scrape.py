"""A real Prometheus scrapes the metrics server: the fixture works and the exposition is right.

Uses a fresh registry and ``Metrics(registry)``, not the process-wide one, so nothing else in
the test session moves these values. (The end-to-end test that scrapes a running consumer
lives with the pipeline tests.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from consumer.health import HealthServer
from consumer.metrics import Metrics

pytestmark = pytest.mark.integration

RULES = (Path(__file__).parents[2] / "helm" / "freshdesk-activity-consumer" / "alerts"
         / "activity-consumer-rules.yaml")


def one(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


@pytest.fixture
def metrics_server():
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    with HealthServer(0, "127.0.0.1", registry=registry, liveness=lambda: (True, "ok"),
                      readiness=lambda: (True, "ok")) as server:
        yield server, metrics


def test_prometheus_scrapes_counters_gauges_and_histograms_from_the_health_server(
        prometheus, metrics_server):
    server, m = metrics_server
    m.delivered.labels("orders", "orders").inc(3)
    m.dead_letters.labels("orders", "rejected").inc()
    m.lag_messages.labels("orders", "0").set(42)
    m.halted.labels("unauthorized").set(1)
    for seconds in (0.02, 0.03, 0.2, 4.0):
        m.request_seconds.labels("delivered", "2xx").observe(seconds)

    prom = prometheus([f"127.0.0.1:{server.port}"])
    prom.wait_for('up{job="activity-consumer"} == 1')

    assert one(prom.query('activity_consumer_activities_delivered_total{topic="orders"}')) == 3
    assert prom.values("activity_consumer_dead_letters_total") == {
        (("instance", f"127.0.0.1:{server.port}"), ("job", "activity-consumer"),
         ("reason", "rejected"), ("topic", "orders")): 1.0}
    assert one(prom.query('activity_consumer_lag_messages{topic="orders",partition="0"}')) == 42
    assert one(prom.query('max by (reason) (activity_consumer_halted)')) == 1
    assert one(prom.query(
        'activity_consumer_freshdesk_request_duration_seconds_count{status_class="2xx"}')) == 4
    assert one(prom.query(
        'activity_consumer_freshdesk_request_duration_seconds_bucket{status_class="2xx",le="0.25"}'
    )) == 3
    assert one(prom.query(
        'activity_consumer_freshdesk_request_duration_seconds_sum{status_class="2xx"}')) \
        == pytest.approx(4.25)


def test_prometheus_sees_values_move_between_scrapes(prometheus, metrics_server):
    server, m = metrics_server
    m.lag_messages.labels("orders", "0").set(10)
    prom = prometheus([f"127.0.0.1:{server.port}"])
    prom.wait_for("activity_consumer_lag_messages", lambda r: r and float(r[0]["value"][1]) == 10)

    m.lag_messages.labels("orders", "0").set(0)
    m.delivered.labels("orders", "orders").inc(10)
    prom.wait_for("activity_consumer_lag_messages", lambda r: r and float(r[0]["value"][1]) == 0)
    prom.wait_for("activity_consumer_activities_delivered_total",
                  lambda r: r and float(r[0]["value"][1]) == 10)


def test_prometheus_loads_the_alert_rules_and_evaluates_them_on_scraped_series(
        prometheus, metrics_server):
    server, m = metrics_server
    m.halted.labels("forbidden").set(1)
    prom = prometheus([f"127.0.0.1:{server.port}"], rule_files=[str(RULES)])
    groups = prom.api("rules")["groups"]
    assert {r["name"] for g in groups for r in g["rules"]} >= {
        "ActivityConsumerHalted", "ActivityConsumerNotDelivering", "ActivityConsumerPollStalled"}
    # "for: 2m" keeps it pending in a test's lifetime: pending proves the rule matched the scrape
    prom.wait_for('ALERTS{alertname="ActivityConsumerHalted",reason="forbidden"}',
                  lambda r: bool(r) and r[0]["metric"]["alertstate"] == "pending")
