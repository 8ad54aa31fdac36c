"""The demo: a local Kafka broker and Freshdesk sandbox, sample events, and the consumer between them.

It uses the same pieces as production and the integration tests (the real broker from Maven
Central jars, the sandbox over HTTP, examples/demo.yaml through the real config loader), and
stops when the group's committed offsets reach the end of both topics: "settled" by Kafka's own
account, not by a timer.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, Producer

from consumer import app, logs
from consumer.config import load_config
from consumer_devtools.group_offsets import wait_until_committed
from consumer_devtools.local_kafka import LocalKafka, ensure_kafka_jars
from consumer_devtools.samples import demo_events
from consumer_devtools.sandbox import SandboxServer, SandboxSettings

__all__ = ["run_demo"]

TOPICS = ("orders", "payments")
_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "demo.yaml"


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def _dead_letters(bootstrap: str, topics: list[str]) -> list[dict[str, str]]:
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"dlq-reader-{uuid.uuid4()}",
                       "auto.offset.reset": "earliest", "enable.auto.commit": False,
                       "logger": logging.getLogger("librdkafka.dlq-reader")})
    found: list[dict[str, str]] = []
    try:
        existing = reader.list_topics(timeout=10).topics
        reader.subscribe([t for t in topics if t in existing] or ["^$"])
        idle_until = time.monotonic() + 5
        while time.monotonic() < idle_until:
            m = reader.poll(0.5)
            if m is not None and m.error() is None:
                found.append({k: (v or b"").decode() for k, v in m.headers() or ()})
                idle_until = time.monotonic() + 1
    finally:
        reader.close()
    return found


def run_demo(workdir: str = ".demo", keep_open: bool | None = None) -> int:
    work = Path(workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    logs.configure("text", "WARNING")

    _step("Apache Kafka jars (Maven Central, cached)")
    ensure_kafka_jars(progress=lambda line: print(f"    {line}", flush=True))
    _step("starting a one-node Kafka broker (KRaft) and the Freshdesk sandbox")
    kafka = LocalKafka(workdir=work / "kafka", log_path=work / "kafka.log")
    sandbox = SandboxServer(SandboxSettings(db_path=str(work / "sandbox.db")))
    with kafka, sandbox:
        print(f"    kafka {kafka.bootstrap}   sandbox {sandbox.base_url}", flush=True)
        for topic in TOPICS:
            kafka.create_topic(topic, partitions=3)

        events = demo_events()
        _step(f"producing {len(events)} sample order and payment events")
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all",
                             "logger": logging.getLogger("librdkafka.producer")})
        for topic, key, value in events:
            producer.produce(topic, value=value, key=key)
        if producer.flush(30):
            raise RuntimeError("could not produce the sample events")
        del producer  # disconnect now, not when the broker is already gone

        group = f"activity-demo-{uuid.uuid4().hex[:8]}"
        config = load_config(_CONFIG, env={
            "KAFKA_BOOTSTRAP": kafka.bootstrap, "GROUP_ID": group,
            "FRESHDESK_BASE_URL": sandbox.base_url, "FRESHDESK_API_KEY": "sandbox-key",
        })
        consumer = app.build(config)
        _step("consuming → transforming → posting to the sandbox")
        started = time.monotonic()
        runner = threading.Thread(target=consumer.run, name="consumer")
        runner.start()
        try:
            wait_until_committed(kafka.bootstrap, group, TOPICS)
        finally:
            consumer.stop()
            runner.join(60)
        took = time.monotonic() - started

        activities = sandbox.activities()
        contacts = Counter(next(iter(a["contact"].values())) for a in activities)
        dead = _dead_letters(kafka.bootstrap, [f"{t}.dlq" for t in TOPICS])
        c = consumer.counts
        print()
        print(f"settled {c.consumed} events in {took:.1f}s: {c.delivered} delivered, "
              f"{c.dead_lettered} dead-lettered, {c.filtered} filtered")
        print(f"timelines: {len(activities)} activities on {len(contacts)} contacts "
              + ", ".join(f"{who} ({n})" for who, n in contacts.most_common()))
        for d in dead:
            print(f"dead letter: {d.get('dlq.original.topic')}/{d.get('dlq.original.partition')}"
                  f"@{d.get('dlq.original.offset')} {d.get('dlq.reason')}: {d.get('dlq.error')}")
        print(f"timeline: {sandbox.base_url}/")
        if keep_open is None:
            keep_open = sys.stdin.isatty()
        if keep_open:
            print("the sandbox stays up so you can open the timeline; Ctrl-C to stop", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
        else:
            print(f"(the sandbox has stopped; to browse the timeline again: python -m consumer_devtools "
                  f"sandbox --db {work / 'sandbox.db'})")
    return 0
