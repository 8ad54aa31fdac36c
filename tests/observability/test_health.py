"""The metrics and health server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from consumer.config import MetricsSettings
from consumer.health import HealthServer, poll_liveness
from consumer.metrics import Metrics

OPENMETRICS_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, whatever the status."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def state() -> dict[str, tuple[bool, str]]:
    return {"live": (True, "ok"), "ready": (True, "ok")}


@pytest.fixture
def server(registry, state):
    with HealthServer(0, "127.0.0.1", registry=registry, liveness=lambda: state["live"],
                      readiness=lambda: state["ready"]) as s:
        yield s


def test_metrics_serves_the_registry_in_the_prometheus_text_format(server, registry):
    m = Metrics(registry)
    m.delivered.labels("orders", "orders").inc(3)
    m.lag_messages.labels("orders", "0").set(42)
    status, content_type, body = get(server.url + "/metrics")
    assert status == 200
    # the classic text format every Prometheus understands (2.x included)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert 'activity_consumer_activities_delivered_total{topic="orders",transform="orders"} 3.0' in body
    assert 'activity_consumer_lag_messages{partition="0",topic="orders"} 42.0' in body


def test_metrics_answers_openmetrics_when_the_scraper_asks_for_it(server, registry):
    Metrics(registry).pending.set(7)
    status, content_type, body = get(server.url + "/metrics", accept=OPENMETRICS_ACCEPT)
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    assert "activity_consumer_pending_messages 7.0" in body
    assert body.endswith("# EOF\n")


def test_healthz_and_readyz_answer_200_ok_when_their_checks_pass(server):
    assert get(server.url + "/healthz") == (200, "text/plain; charset=utf-8", "ok\n")
    assert get(server.url + "/readyz?verbose=1") == (200, "text/plain; charset=utf-8", "ok\n")


def test_failing_checks_answer_503_with_their_reason(server, state):
    state["live"] = (False, "the poll loop has not come round for 45s")
    state["ready"] = (False, "no partitions assigned yet")
    assert get(server.url + "/healthz")[::2] == (503, "the poll loop has not come round for 45s\n")
    assert get(server.url + "/readyz")[::2] == (503, "no partitions assigned yet\n")


def test_liveness_and_readiness_are_independent(server, state):
    state["ready"] = (False, "halted")
    assert get(server.url + "/healthz")[0] == 200
    assert get(server.url + "/readyz")[0] == 503


def test_a_check_that_raises_answers_503_naming_the_exception(registry):
    def broken() -> tuple[bool, str]:
        raise RuntimeError("loop state unreadable")

    with HealthServer(0, "127.0.0.1", registry=registry, liveness=broken,
                      readiness=lambda: (True, "ok")) as s:
        status, _, body = get(s.url + "/healthz")
    assert status == 503
    assert "RuntimeError: loop state unreadable" in body


def test_unknown_paths_answer_404(server):
    status, _, body = get(server.url + "/")
    assert status == 404 and "/metrics" in body
    assert get(server.url + "/metrics/extra")[0] == 404


def test_the_server_answers_while_a_check_blocks_another_request(registry):
    """Threaded: one stuck probe (e.g. a readiness check waiting on a lock) blocks nobody else."""
    release = threading.Event()

    def slow_ready() -> tuple[bool, str]:
        release.wait(5)
        return True, "ok"

    with HealthServer(0, "127.0.0.1", registry=registry, liveness=lambda: (True, "ok"),
                      readiness=slow_ready) as s:
        stuck = threading.Thread(target=get, args=(s.url + "/readyz",))
        stuck.start()
        try:
            assert get(s.url + "/healthz")[0] == 200
            assert get(s.url + "/metrics")[0] == 200
        finally:
            release.set()
            stuck.join(5)


def test_port_zero_binds_a_free_port_and_stop_releases_it(registry):
    s = HealthServer(0, "127.0.0.1", registry=registry, liveness=lambda: (True, "ok"),
                     readiness=lambda: (True, "ok")).start()
    port = s.port
    assert port > 0
    s.stop()
    s.stop()  # idempotent
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # released


def test_a_taken_port_fails_start_with_the_setting_to_change(registry):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        s = HealthServer(taken.getsockname()[1], "127.0.0.1", registry=registry,
                         liveness=lambda: (True, "ok"), readiness=lambda: (True, "ok"))
        with pytest.raises(OSError, match=r"metrics\.port"):
            s.start()


def test_metrics_settings_defaults_and_strictness():
    s = MetricsSettings()
    assert (s.enabled, s.host, s.port, s.liveness_timeout_s) == (True, "0.0.0.0", 9102, 30.0)
    with pytest.raises(ValidationError):
        MetricsSettings(prot=9000)  # a typo is refused, not ignored
    with pytest.raises(ValidationError):
        MetricsSettings(port=70000)
    with pytest.raises(ValidationError):
        s.port = 1  # frozen


def test_poll_liveness_fails_once_the_last_poll_is_older_than_the_timeout(registry):
    now = [1000.0]
    m = Metrics(registry)
    check = poll_liveness(30, registry, clock=lambda: now[0])
    assert check() == (True, "ok (starting: no poll yet)")
    now[0] = 1031.0
    ok, reason = check()
    assert not ok and "has not started for 31s" in reason
    m.last_poll.set(1030.0)
    assert check() == (True, "ok")
    now[0] = 1075.0
    ok, reason = check()
    assert not ok
    assert reason == ("the poll loop has not come round for 45s "
                      "(limit 30s: metrics.liveness_timeout_s)")
