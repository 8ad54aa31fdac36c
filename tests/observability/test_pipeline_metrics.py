"""A real Prometheus scrapes a real consumer run: PromQL answers what the run did.

Also: each loop-side metric moves as its event happens, and no secret reaches logs, errors or
/metrics.
"""

from __future__ import annotations

import os
import time
import uuid

import httpx
import orjson
import pytest

from consumer_devtools.samples import order_event

pytestmark = pytest.mark.integration

RULES = "helm/freshdesk-activity-consumer/alerts/activity-consumer-rules.yaml"


def _events(n: int, tag: str) -> list[tuple]:
    out = []
    for i in range(n):
        e = order_event(i, customer=f"m{i % 20}-{tag}")
        out.append((e["customer"]["id"].encode(), orjson.dumps(e), None, None))
    return out


def _wait_health(running, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while getattr(running.consumer, "_health", None) is None:
        assert time.monotonic() < deadline, "the metrics server did not start"
        time.sleep(0.05)
    return running.consumer._health.port


def test_prometheus_sees_delivered_total_lag_and_budget_of_a_real_run(
        kafka_broker, topic_factory, produce, sandbox_factory, consumer_setup, run_consumer,
        prometheus, capsys):
    sandbox = sandbox_factory(rate_limit=5000, window_seconds=600)
    topic = topic_factory(partitions=3, prefix="orders")
    tag = uuid.uuid4().hex[:6]
    produce(topic, [*_events(200, tag), (b"bad", b"{not json", None, None)])
    # Freshdesk answers 503 (stored nothing, spent no budget) until Prometheus has seen the
    # backlog and the outage: a positive signal, not a race between the drain and a scrape.
    sandbox.set_faults(error_rate=1.0, error_status=503)
    setup = consumer_setup(sandbox, {topic: "orders"}, freshdesk={"max_in_flight": 2})
    running = run_consumer(setup)
    port = _wait_health(running)
    prom = prometheus([f"127.0.0.1:{port}"], rule_files=[RULES])

    prom.wait_for("sum(activity_consumer_lag_messages) > 0", timeout=60)
    prom.wait_for("activity_consumer_freshdesk_unreachable_since_timestamp_seconds > 0", timeout=60)
    sandbox.clear_faults()
    setup.wait_settled(timeout=120)
    delivered = prom.wait_for("sum(activity_consumer_activities_delivered_total)",
                              lambda r: r and float(r[0]["value"][1]) == 200, timeout=30)
    lag = prom.wait_for("sum(activity_consumer_lag_messages)",
                        lambda r: r and float(r[0]["value"][1]) == 0, timeout=30)
    remaining = prom.wait_for("activity_consumer_freshdesk_budget_remaining",
                              lambda r: r and float(r[0]["value"][1]) == 4800, timeout=30)
    total = prom.query("activity_consumer_freshdesk_budget_total")
    paced = prom.wait_for("sum(activity_consumer_budget_calls_total)",
                          lambda r: r and float(r[0]["value"][1]) == len(sandbox.requests()),
                          timeout=30)
    available = prom.query("activity_consumer_budget_window_available_calls")
    dead = prom.wait_for('sum(activity_consumer_dead_letters_total{reason="decode"})',
                         lambda r: r and float(r[0]["value"][1]) == 1, timeout=30)
    peak_lag = prom.query("max_over_time(sum(activity_consumer_lag_messages)[5m:1s])")
    with capsys.disabled():
        print(f"\nPromQL: delivered_total={delivered[0]['value'][1]} lag={lag[0]['value'][1]} "
              f"peak_lag={peak_lag[0]['value'][1]} budget_remaining={remaining[0]['value'][1]} "
              f"budget_total={total[0]['value'][1]} dead_letters_decode={dead[0]['value'][1]}")
    assert float(total[0]["value"][1]) == 5000
    calls = sandbox.requests()
    assert float(paced[0]["value"][1]) == len(calls), "every call (503s too) was paced"
    assert float(available[0]["value"][1]) == 4500, "the account's 5000 less the 10% reserve"
    assert 0 < float(peak_lag[0]["value"][1]) <= 201
    assert len([c for c in calls if c["status"] == 200]) == 200, "each activity posted once"
    assert all(c["status"] == 503 for c in calls if c["status"] != 200), "probes while it was down"
    running.stop()


def test_loop_metrics_move_as_their_events_happen(
        kafka_broker, topic_factory, produce, sandbox_factory, consumer_setup, run_consumer):
    sandbox = sandbox_factory(rate_limit=1_000_000)
    topic = topic_factory(partitions=2, prefix="orders")
    tag = uuid.uuid4().hex[:6]
    unknown = order_event(999, customer=f"u-{tag}")
    unknown["type"] = "order.viewed"  # filtered
    produce(topic, [*_events(10, tag), (b"u", orjson.dumps(unknown), None, None),
                    (b"bad", b"nope", None, None)])
    sandbox.set_faults(script=[{"status": 429, "retry_after": 1}, {"status": 500}])
    setup = consumer_setup(sandbox, {topic: "orders"})
    running = run_consumer(setup)
    setup.wait_settled(timeout=60)
    m = running.consumer.metrics

    def value(name: str, **labels: str) -> float:
        return m.registry.get_sample_value(name, labels) or 0.0

    deadline = time.monotonic() + 30  # the lag gauges' next round after the last commit
    while any(m.registry.get_sample_value("activity_consumer_lag_messages",
                                          {"topic": topic, "partition": p}) != 0 for p in "01"):
        assert time.monotonic() < deadline, "the lag gauges never came back to 0"
        time.sleep(0.1)
    running.stop()

    assert value("activity_consumer_messages_consumed_total", topic=topic) == 12
    assert value("activity_consumer_activities_delivered_total", topic=topic,
                 transform="orders") == 10
    assert value("activity_consumer_messages_filtered_total", topic=topic, transform="orders",
                 reason="event_type_not_shown") == 1
    assert value("activity_consumer_dead_letters_total", topic=topic, reason="decode") == 1
    # The filtered order.viewed is told from its bytes (transforms.probe): no transform ran, no timing.
    assert value("activity_consumer_transform_duration_seconds_count", transform="orders") == 11
    assert value("activity_consumer_freshdesk_retries_total", cause="throttled") == 1
    assert value("activity_consumer_freshdesk_retries_total", cause="server_error") == 1
    assert value("activity_consumer_freshdesk_retry_after_seconds_count") == 1
    assert value("activity_consumer_freshdesk_request_duration_seconds_count",
                 outcome="delivered", status_class="2xx") == 10
    assert value("activity_consumer_freshdesk_request_duration_seconds_count",
                 outcome="throttled", status_class="429") == 1
    assert value("activity_consumer_end_to_end_latency_seconds_count", topic=topic) == 10
    assert value("activity_consumer_commit_duration_seconds_count") >= 1
    assert value("activity_consumer_rebalances_total", kind="assigned") >= 1
    assert value("activity_consumer_freshdesk_in_flight_requests") == 0
    assert value("activity_consumer_last_poll_timestamp_seconds") > time.time() - 30
    for partition in ("0", "1"):
        assert value("activity_consumer_lag_messages", topic=topic, partition=partition) == 0


def test_secrets_never_reach_logs_errors_or_metrics(
        kafka_broker, topic_factory, produce, sandbox_factory, consumer_setup, consumer_process):
    api_key = "fd-key-" + uuid.uuid4().hex
    sasl_password = "sasl-pw-" + uuid.uuid4().hex
    redis_password = "redis-pw-" + uuid.uuid4().hex
    sandbox = sandbox_factory(rate_limit=1_000_000)  # does not know the key: 401, halt, probe
    topic = topic_factory(partitions=1, prefix="orders")
    produce(topic, _events(3, uuid.uuid4().hex[:6]))
    setup = consumer_setup(
        sandbox, {topic: "orders"}, api_key=api_key,
        kafka={"sasl.username": "u", "sasl.password": "${TEST_SASL_PASSWORD}"},
        ledger={"backend": "redis", "url": "redis://:${TEST_REDIS_PASSWORD}@127.0.0.1:1/0",
                "timeout_s": 0.5},
        log={"format": "json", "level": "DEBUG"})
    setup.env.update({"TEST_SASL_PASSWORD": sasl_password, "TEST_REDIS_PASSWORD": redis_password})
    proc = consumer_process(setup)
    deadline = time.monotonic() + 30
    port = None
    while port is None and time.monotonic() < deadline:
        for line in proc.log().splitlines():
            if '"metrics"' in line and "port" in line:
                port = orjson.loads(line).get("port")
        time.sleep(0.2)
    assert port, proc.log()[-2000:]
    deadline = time.monotonic() + 30  # the ledger fails (a password-bearing URL): logged
    while "ledger unavailable" not in proc.log():
        assert time.monotonic() < deadline, proc.log()[-2000:]
        time.sleep(0.1)
    exposition = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    readyz = httpx.get(f"http://127.0.0.1:{port}/readyz").text
    proc.terminate()
    assert proc.wait(30) == 0
    log = proc.log()
    assert "ledger unavailable" in log, "the test must have provoked errors to be meaningful"
    for secret in (api_key, sasl_password, redis_password):
        for where, text in (("log", log), ("/metrics", exposition), ("/readyz", readyz),
                            ("config file", setup.path.read_text())):
            assert secret not in text, f"a secret appeared in the {where}"
    assert os.environ.get("TEST_REDIS_PASSWORD") is None
