"""The filter path, end to end: events/s and CPU µs per event the consumer spends on events its
transform filters (the peer bench's "filter" benchmark, on a local broker).

    .venv/bin/python bench/filter_path.py [--n 200000] [--size-kb 2 12] [--profile DIR]

For each size: a 6-partition topic gets ``n`` ``orders`` events of type ``order.updated`` (the
peer bench's ``produce.py --filtered`` shape, ~``size_kb`` KB each), which ``orders`` filters;
then ``activity-consumer run`` (a subprocess, this interpreter) consumes them with a fresh group.
Measured from the process start until the group's committed offsets reach the end offsets
(polled every 50 ms): wall seconds, events/s, and the process's utime+stime from /proc/PID/stat
at that moment, per event. Start-up (imports, group join) is in both, as in the peer bench.

``run_filter_bench(n, size_kb)`` is the same as a function (the ``make bench`` harness calls it);
pass ``bootstrap`` to reuse a running broker, ``profile`` to record the run with py-spy (a raw
collapsed-stack file plus its top frames; the sampler's own CPU is not the consumer's, but the
ptrace stops slow it down: figures of a profiled run are not comparable).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

__all__ = ["filtered_event", "produce_filtered", "run_filter_bench", "top_frames"]

ROOT = Path(__file__).resolve().parent.parent
CLK = os.sysconf("SC_CLK_TCK")
PARTITIONS = 6

_FIRST = ["Rachel", "Monica", "Phoebe", "Joey", "Chandler", "Ross", "Janice", "Gunther"]
_LAST = ["Green", "Geller", "Buffay", "Tribbiani", "Bing", "Hubbard"]
_CATALOG = [
    ("White Ace Sneakers", "SNK-ACE-WHT", "42.00", {"size": "9 UK"}),
    ("Merino Crew Socks", "SCK-MER", "4.00", {"size": "M", "colour": "grey"}),
    ("Canvas Tote Bag", "BAG-CNV-NAT", "18.50", {}),
    ("Packable Rain Jacket", "JKT-RAIN", "89.00", {"size": "L", "colour": "navy"}),
    ("Organic Cotton Tee", "TEE-ORG", "19.99", {"size": "S", "colour": "sand"}),
    ("Trail Running Shoes", "SNK-TRL", "119.95", {"size": "10 UK"}),
]


def filtered_event(i: int, size_kb: float, rnd: random.Random) -> dict[str, Any]:
    """An ``order.updated`` event shaped as produce.py --filtered makes them (envelope, customer,
    source, the whole order with addresses and items, metadata the transform ignores), with
    items added until its JSON is about ``size_kb`` KB."""
    first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
    address = {"name": f"{first} {last}", "line1": f"{rnd.randint(1, 999)} Bedford Street",
               "line2": f"Apt {rnd.randint(1, 40)}", "city": "Manhattan", "region": "NY",
               "postcode": "10014", "country": "US", "phone": f"+1555{rnd.randint(1000000, 9999999)}"}
    customer = {"id": f"cus_{i % 5000:06d}", "name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}.{i % 5000}@example.com",
                "phone": address["phone"], "locale": "en-US", "tags": ["vip", "returning"],
                "accepts_marketing": rnd.random() < 0.4}
    at = f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
    order: dict[str, Any] = {
        "id": f"ord_{i:07d}", "number": 100000 + i, "currency": "USD", "subtotal": "0.00",
        "shipping_total": "4.95", "tax_total": "0.00", "total": "0.00", "items": [],
        "link": f"https://shop.example/admin/orders/{100000 + i}",
        "shipping_address": address, "billing_address": address, "shipping_method": "standard",
        "payment_gateway": "stripe", "discount_codes": [], "note": None, "created_at": at,
        "status": "placed"}
    event = {"event_id": f"evt_{i:09d}", "type": "order.updated", "occurred_at": at,
             "customer": customer, "source": {"name": "Central Perk Shop", "id": "shop.example"},
             "order": order,
             "metadata": {"schema_version": 3, "producer": "orders-service/7.4.2",
                          "trace_id": f"{rnd.getrandbits(128):032x}",
                          "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"}}
    target = int(size_kb * 1024)
    size = len(orjson.dumps(event))
    while size < target - 150:
        name, sku, price, options = _CATALOG[rnd.randrange(len(_CATALOG))]
        item = {"name": name, "sku": f"{sku}-STD", "quantity": rnd.choice([1, 1, 2, 3]),
                "price": price, "product_id": f"prod_{rnd.randint(0, 99999):05d}",
                "variant_id": f"var_{rnd.randint(10000, 99999)}", "vendor": "Central Perk Goods",
                "image_url": f"https://cdn.shop.example/products/{sku.lower()}.jpg"}
        if options:
            item["options"] = dict(options)
        order["items"].append(item)
        size += len(orjson.dumps(item)) + 1
    return event


def produce_filtered(bootstrap: str, topic: str, n: int, size_kb: float, seed: int = 20261202) -> int:
    """``n`` filtered events into ``topic`` (made beforehand); returns the median size in bytes."""
    rnd = random.Random(seed)
    templates = [filtered_event(i, size_kb, rnd) for i in range(min(n, 500))]
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000,
                         "compression.type": "none", "acks": "all",
                         "queue.buffering.max.messages": 200_000})
    sizes = []
    for i in range(n):
        event = templates[i % len(templates)]
        event["event_id"] = f"evt_{i:09d}"  # unique ids, as in the peer bench
        value = orjson.dumps(event)
        sizes.append(len(value))
        while True:
            try:
                producer.produce(topic, value=value, key=event["customer"]["id"].encode())
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError(f"{topic}: messages not acknowledged by the broker")
    sizes.sort()
    return sizes[len(sizes) // 2]


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, IndexError, ValueError):
        return None


def _config(path: Path, bootstrap: str, group: str, topic: str) -> None:
    path.write_text(
        "kafka:\n"
        f"  bootstrap.servers: {bootstrap}\n"
        f"  group.id: {group}\n"
        "freshdesk:\n"
        "  base_url: http://127.0.0.1:9\n"  # nothing is posted: every event is filtered
        "  api_key: bench-key\n"
        "ledger:\n  backend: memory\n"
        "metrics:\n  host: 127.0.0.1\n  port: 0\n"
        "subscriptions:\n"
        f"  - topic: {topic}\n    transform: orders\n")


def top_frames(raw: Path, limit: int = 15) -> dict[str, list[tuple[str, float]]]:
    """From py-spy's raw (collapsed) output: the ``self`` and ``total`` share of samples per frame
    of the poll thread (stacks through ActivityConsumer.run)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or "run (consumer/loop.py" not in stack:
            continue
        n = int(count)
        samples += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
                  for f in stack.split(";")]
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    if not samples:
        return {"self": [], "total": []}
    return {kind: [(f, round(100 * c / samples, 1)) for f, c in counter.most_common(limit)]
            for kind, counter in (("self", own), ("total", total))}


def run_filter_bench(n: int = 200_000, size_kb: float = 2, *, bootstrap: str | None = None,
                     topic: str | None = None, profile: Path | None = None,
                     timeout: float = 600.0) -> dict[str, Any]:
    """One filter-path run; returns events/s, CPU µs per event and what it ran on.

    Without ``bootstrap`` a local broker is started (consumer_devtools.local_kafka) and stopped
    after. Without ``topic`` a new one is made and filled; with it, it must already hold ``n``
    filtered events (so several runs can share one topic, each with its own group).
    """
    with ExitStack() as stack:
        if bootstrap is None:
            from consumer_devtools.local_kafka import LocalKafka

            kafka = LocalKafka()
            stack.callback(kafka.cleanup)
            bootstrap = kafka.start().bootstrap
        median = None
        if topic is None:
            topic = f"filter-{size_kb:g}kb-{n}-{uuid.uuid4().hex[:6]}"
            _create_topic(bootstrap, topic)
            median = produce_filtered(bootstrap, topic, n, size_kb)
        rundir = Path(tempfile.mkdtemp(prefix="filter-bench-"))
        stack.callback(shutil.rmtree, rundir, True)
        group = f"filter-bench-{uuid.uuid4().hex[:8]}"
        config = rundir / "consumer.yaml"
        _config(config, bootstrap, group, topic)
        result = _measure(bootstrap, topic, group, config, rundir, profile, timeout)
        result.update(n=n, size_kb=size_kb, median_bytes=median, topic=topic,
                      cores=os.cpu_count(), load=os.getloadavg()[0])
        return result


def _create_topic(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = admin.list_topics(topic, timeout=5).topics.get(topic)
        if found is not None and found.error is None and len(found.partitions) == PARTITIONS:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{topic}: partitions not seen in 30 s")


def _measure(bootstrap: str, topic: str, group: str, config: Path, rundir: Path,
             profile: Path | None, timeout: float) -> dict[str, Any]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                      "enable.auto.commit": False})
    try:
        meta = probe.list_topics(topic, timeout=10).topics[topic]
        parts = [TopicPartition(topic, p) for p in meta.partitions]
        end = {tp.partition: probe.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
        total = sum(end.values())
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        log = open(rundir / "consumer.log", "wb")  # noqa: SIM115  # closed below
        began = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "consumer", "run", "--config", str(config)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        spy = None
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
            raw = profile / f"{topic}.raw.txt"
            spy = subprocess.Popen(["py-spy" if shutil.which("py-spy") else
                                    str(Path(sys.executable).parent / "py-spy"), "record",
                                    "--pid", str(proc.pid), "--format", "raw", "--rate", "250",
                                    "--output", str(raw)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            cpu = wall = None
            while time.monotonic() - began < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"consumer exited {proc.returncode}: "
                                       f"{(rundir / 'consumer.log').read_text()[-2000:]}")
                got = probe.committed(parts, timeout=5)
                if all(tp.offset >= end[tp.partition] for tp in got):
                    cpu = _cpu_seconds(proc.pid)
                    wall = time.monotonic() - began
                    break
                time.sleep(0.05)
            if cpu is None or wall is None:
                raise TimeoutError(f"group {group} did not commit {total} messages in {timeout:.0f}s")
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            if spy is not None:
                spy.wait(30)
        result: dict[str, Any] = {"events": total, "wall_s": round(wall, 3),
                                  "events_per_s": round(total / wall), "cpu_s": round(cpu, 2),
                                  "cpu_us_per_event": round(1e6 * cpu / total, 1)}
        if profile is not None:
            result["profile"] = str(raw)
            result["top"] = top_frames(raw)
        return result
    finally:
        probe.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--size-kb", type=float, nargs="+", default=[2.0, 12.0])
    ap.add_argument("--runs", type=int, default=1, help="runs per size (one topic, fresh groups)")
    ap.add_argument("--bootstrap", help="a running broker (default: start a local one)")
    ap.add_argument("--profile", type=Path, help="record the runs with py-spy into this folder")
    args = ap.parse_args(argv)
    with ExitStack() as stack:
        bootstrap = args.bootstrap
        if bootstrap is None:
            from consumer_devtools.local_kafka import LocalKafka

            kafka = LocalKafka()
            stack.callback(kafka.cleanup)
            bootstrap = kafka.start().bootstrap
        for size in args.size_kb:
            topic = f"filter-{size:g}kb-{args.n}-{uuid.uuid4().hex[:6]}"
            _create_topic(bootstrap, topic)
            median = produce_filtered(bootstrap, topic, args.n, size)
            for _ in range(args.runs):
                result = run_filter_bench(args.n, size, bootstrap=bootstrap, topic=topic,
                                          profile=args.profile)
                result["median_bytes"] = median
                print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
