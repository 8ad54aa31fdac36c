"""Delivery between a real network and Freshdesk: outages wait and lose nothing, proxies carry
it, hostile answers are bounded, a redirect halts. Real processes and sockets throughout: the
broker, the sandbox behind TLS fronts that refuse, blackhole or fail handshakes, squid as the
forward proxy (the direct route does not resolve), misbehaving HTTP servers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from consumer_devtools.samples import order_event
from tests.fixtures.kafka import read_topic

pytestmark = pytest.mark.integration

OUTAGE_S = 60.0  # as the issue measured it: a minute of Freshdesk away
EVENTS = 50


def _wait(what: str, done: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _orders(tag: str, first: int, n: int) -> list[tuple[bytes, bytes, None, None]]:
    return [(f"{tag}-{i}".encode(), orjson.dumps(order_event(i, email=f"{tag}{i}@example.com")),
             None, None) for i in range(first, first + n)]


def test_a_minute_of_freshdesk_away_dead_letters_nothing_and_delivers_each_event_once(
        kafka_broker, topic_factory, produce, sandbox_factory, front_factory, test_ca,
        consumer_setup, run_consumer, monkeypatch, capsys):
    """Refused connections, a TLS handshake that fails, a blackholed connection: 60 s each (at
    once, three consumers), 50 events arriving meanwhile; then it comes back."""
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.pem_path))
    cases: dict[str, dict[str, Any]] = {}
    for mode in ("refuse", "tls_untrusted", "blackhole"):
        sandbox = sandbox_factory()
        front = front_factory(sandbox.base_url, tls=True)
        front.set_mode(mode)
        topic = topic_factory(prefix=f"orders-{mode}")
        setup = consumer_setup(sandbox, {topic: "orders"},
                               freshdesk={"base_url": f"https://127.0.0.1:{front.port}"})
        cases[mode] = {"sandbox": sandbox, "front": front, "topic": topic, "setup": setup}
    for case in cases.values():
        case["running"] = run_consumer(case["setup"])
    started = time.monotonic()
    for tag, case in cases.items():
        produce(case["topic"], _orders(tag, 0, 10))
    for case in cases.values():  # each sees the outage: not ready, the gauge set
        _wait("readiness to say Freshdesk is unreachable",
              lambda c=case: "Freshdesk unreachable" in c["running"].consumer.readiness.check()[1])
    for tag, case in cases.items():  # the other 40 arrive while it is away
        produce(case["topic"], _orders(tag, 10, EVENTS - 10))
    since = {tag: c["running"].consumer.metrics.registry.get_sample_value(
        "activity_consumer_freshdesk_unreachable_since_timestamp_seconds") for tag, c in cases.items()}
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - started)))  # the outage's length, not a sync
    for case in cases.values():
        case["front"].set_mode("forward")
    for case in cases.values():
        case["setup"].wait_settled(timeout=180)
        case["running"].stop()
    summary = []
    for tag, case in cases.items():
        consumer = case["running"].consumer
        keys = [a["activity"]["object"]["id"] for a in case["sandbox"].activities()]
        dead = read_topic(kafka_broker.bootstrap, f"{case['topic']}.dlq", 0, timeout=3)
        summary.append(f"{tag}: delivered={len(keys)} distinct={len(set(keys))} "
                       f"dead_letters={len(dead)} unreachable_since={since[tag]}")
        assert (len(keys), len(set(keys)), len(dead)) == (EVENTS, EVENTS, 0), summary[-1]
        assert consumer.counts.dead_lettered == 0 and since[tag], summary[-1]
        assert consumer.readiness.check() == (True, "ok")
    with capsys.disabled():
        print(f"\noutage {OUTAGE_S:.0f}s: " + "; ".join(summary))


def _proxied_consumer(setup_args: dict[str, Any], consumer_setup, run_consumer, produce,
                      topic: str, tag: str, n: int = 5) -> Any:
    setup = consumer_setup(**setup_args)
    produce(topic, _orders(tag, 0, n))
    running = run_consumer(setup)
    setup.wait_settled(timeout=120)
    running.stop()
    return running


def test_https_through_squid_by_connect_with_credentials_from_the_environment_never_shown(
        topic_factory, produce, sandbox, front_factory, test_ca, forward_proxy, consumer_setup,
        run_consumer, monkeypatch, caplog):
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.pem_path))
    monkeypatch.setenv("TEST_PROXY_URL", forward_proxy.auth_url())  # the config's ${TEST_PROXY_URL}
    front = front_factory(sandbox.base_url, tls=True)
    topic = topic_factory(prefix="orders-proxied")
    mark = forward_proxy.mark()
    url = f"https://freshdesk.test:{front.port}"  # only squid resolves it: no direct route
    running = _proxied_consumer(dict(
        sandbox=sandbox, subscriptions={topic: "orders"},
        freshdesk={"base_url": url, "proxy": "${TEST_PROXY_URL}"}), consumer_setup,
        run_consumer, produce, topic, "p")
    assert len(sandbox.activities()) == 5
    entry = forward_proxy.wait_for_entry(
        lambda e: e.method == "CONNECT" and e.url == f"freshdesk.test:{front.port}", since=mark)
    assert entry.user == forward_proxy.user, entry.line
    exposition = running.consumer.metrics.registry
    text = caplog.text + str([m for m in exposition.collect()])
    assert forward_proxy.password not in text


def test_http_through_squid_from_http_proxy_and_no_proxy_lets_a_host_go_direct(
        topic_factory, produce, sandbox, forward_proxy, consumer_setup, run_consumer, monkeypatch):
    for name, value in forward_proxy.env().items():
        monkeypatch.setenv(name, value)
    topic = topic_factory(prefix="orders-http-proxied")
    mark = forward_proxy.mark()
    port = urlsplit(sandbox.base_url).port
    url = f"http://freshdesk.test:{port}"
    _proxied_consumer(dict(sandbox=sandbox, subscriptions={topic: "orders"},
                           freshdesk={"base_url": url}), consumer_setup, run_consumer, produce,
                      topic, "h")
    assert len(sandbox.activities()) == 5
    forward_proxy.wait_for_entry(lambda e: e.method == "POST" and "freshdesk.test" in e.url,
                                 since=mark)
    # NO_PROXY: the sandbox on localhost goes direct (squid could not reach it: a pass is direct)
    monkeypatch.setenv("NO_PROXY", "localhost")
    monkeypatch.setenv("no_proxy", "localhost")
    direct = topic_factory(prefix="orders-direct")
    _proxied_consumer(dict(sandbox=sandbox, subscriptions={direct: "orders"},
                           freshdesk={"base_url": f"http://localhost:{port}"}),
                      consumer_setup, run_consumer, produce, direct, "d")
    assert len(sandbox.activities()) == 10


_ONE_POST = """
import asyncio, json, re, sys, time
from consumer.config import FreshdeskSettings
from consumer.delivery.freshdesk import FreshdeskClient

async def main():
    client = FreshdeskClient(FreshdeskSettings(base_url=sys.argv[1], api_key="k", timeout_s=5))
    started = time.monotonic()
    reply = await client.post(b'{"activity": {}}')
    took = time.monotonic() - started
    await client.aclose()
    print(json.dumps({"answer": reply.answer.value, "cause": reply.cause, "detail": reply.detail,
                      "seconds": took,
                      "maxrss_mb": peak_mb()}))

def peak_mb():  # VmHWM: this program's peak (ru_maxrss would carry the parent's over exec)
    status = open("/proc/self/status").read()
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
asyncio.run(main())
"""


@pytest.mark.parametrize(("kind", "options", "cause"), [
    ("huge_content_length", {}, "too_large"),
    ("endless_chunked", {}, "too_large"),
    ("huge_headers", {"style": "many"}, "bad_answer"),
    ("huge_headers", {"style": "endless"}, "bad_answer"),
    ("slow_drip", {"interval": 0.5}, "timeout"),
])
def test_a_hostile_answer_is_bounded_in_memory_and_time(hostile_server, kind, options, cause,
                                                        capsys):
    server = hostile_server(kind, **options)
    done = subprocess.run([sys.executable, "-c", _ONE_POST, server.base_url], capture_output=True,
                          text=True, timeout=60, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    with capsys.disabled():
        print(f"\n{kind} {options}: {result['cause']} in {result['seconds']:.2f}s, "
              f"peak RSS {result['maxrss_mb']:.0f} MB")
    assert (result["answer"], result["cause"]) == ("transient", cause), result
    assert result["maxrss_mb"] < 300 and result["seconds"] <= 5 + 1.0, result


def test_a_redirect_halts_delivery_and_says_where_it_points(
        kafka_broker, topic_factory, produce, hostile_server, consumer_setup, run_consumer,
        sandbox):
    target = f"https://acme-{uuid.uuid4().hex[:6]}.freshdesk.com/api/v2/contact-activities"
    server = hostile_server("redirect", status=301, location=target)
    topic = topic_factory(prefix="orders-moved")
    produce(topic, _orders("r", 0, 3))
    setup = consumer_setup(sandbox, {topic: "orders"}, freshdesk={"base_url": server.base_url})
    running = run_consumer(setup)
    _wait("the halt", lambda: "delivery halted" in running.consumer.readiness.check()[1])
    why = running.consumer.readiness.check()[1]
    assert target in why and "freshdesk.domain or freshdesk.base_url" in why, why
    assert setup.committed_and_end()[0] == 0, "a halt commits nothing"
    running.stop()
    assert running.consumer.counts.dead_lettered == 0
