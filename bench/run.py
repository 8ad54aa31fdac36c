"""``python -m bench`` (``make bench``): the consumer's five benchmarks, each against its targets.

Starts its own broker, sinks, sandbox and Redis; runs the consumer as a process of this worktree
(``python -m consumer run``, memory ledger, quiet logs) and measures that process only
(utime+stime and VmHWM from /proc, the peer bench's methods):

1. filter: 200,000 events ``orders`` filters, ~2 KB and ~12 KB: events/s, CPU µs per event
   (steady: from the group's first commit to its commit of the last offset);
2. delivery: 50,000 events into a sink that answers 200 at once (``bench/sink.py``),
   ``max_in_flight`` 16 (the default) and 64: activities/s and CPU µs per activity (steady:
   first to N-th POST, the sink noting the consumer's CPU at both);
3. budget use: ``bench/budget_use.py``'s replicas against the sandbox (600 calls per 60 s,
   accelerated x10, another integration spending 20%), fixed and sliding, 1 replica and 3 sharing
   Redis, 30 s each: goodput as % of (budget - reserve), 429s as % of our calls;
4. latency: events produced at half the budget (300 a minute) for 60 s through the consumer into
   the sandbox: p50/p95/p99 from each event's Kafka timestamp to the sandbox's receipt (and, for
   scale, what a bare consumer in the harness saw of the same events);
5. memory: peak RSS (VmHWM) while a 100,000-event backlog drains into a sink slow to answer (50 ms),
   read after 20,000 deliveries or 45 s, whichever comes first.

To stay under 10 minutes on 2 cores, a filter run still going 60 s after its process started,
or a delivery run 70 s after, is measured over what it did by then and marked ``capped`` (at
those rates the target is missed anyway). One JSON line per benchmark row on stdout (also appended
to bench/results/<timestamp>.jsonl), then a table; progress on stderr. ``--only filter,latency``
runs some, ``--set KEY=VALUE`` changes a size, ``--quick`` runs small sizes (a smoke test of the
harness: its figures mean little).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, Producer, TopicPartition

from bench.harness import (
    ROOT,
    ConsumerProcess,
    Env,
    Sink,
    elapsed,
    machine,
    proc_status_mb,
    progress,
    sandbox_process,
)

BENCHES = ("filter", "delivery", "budget", "latency", "memory")
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Sizes:
    filter_n: int = 200_000
    filter_kb: tuple[int, ...] = (2, 12)
    filter_cap_s: float = 60.0  # a run still going then is measured over what it did by then
    delivery_n: int = 50_000
    delivery_in_flight: tuple[int, ...] = (16, 64)  # the default, and tuned
    delivery_cap_s: float = 70.0  # ditto: 50,000 in 70 s is 715/s, far below the target anyway
    budget_cases: tuple[str, ...] = ("fixed-1", "sliding-1", "fixed-3-redis", "sliding-3-redis")
    budget_s: float = 30.0  # per case: 5 accelerated windows
    latency_s: float = 60.0
    memory_backlog: int = 100_000
    memory_stop_n: int = 20_000
    memory_stop_s: float = 45.0
    memory_delay_ms: float = 50.0
    memory_big_n: int = 2_000  # the big-message backlog: this many events ...
    memory_big_kb: int = 500  # ... of this size
    timeout_s: float = 240.0  # a consumer run that has not started by then is an error


FULL = Sizes()
QUICK = Sizes(filter_n=2_000, delivery_n=500, budget_cases=("fixed-1", "sliding-3-redis"),
              budget_s=4.0, latency_s=3.0, memory_backlog=2_000, memory_stop_n=300,
              memory_stop_s=6.0, memory_big_n=200, filter_cap_s=30.0, delivery_cap_s=30.0,
              timeout_s=60.0)


def with_overrides(sizes: Sizes, overrides: list[str]) -> Sizes:
    """``sizes`` with ``key=value`` changes (tuples comma-separated), e.g. filter_n=20000."""
    changes: dict[str, Any] = {}
    for item in overrides:
        key, _, value = item.partition("=")
        if key not in Sizes.__dataclass_fields__:
            raise SystemExit(f"--set {item}: no size called {key!r} "
                             f"(known: {', '.join(Sizes.__dataclass_fields__)})")
        current = getattr(sizes, key)
        if isinstance(current, tuple):
            kind = type(current[0]) if current else str
            changes[key] = tuple(kind(v) for v in value.split(",") if v)
        else:
            changes[key] = type(current)(value)
    return replace(sizes, **changes)


# --- targets ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    figure: str
    op: str  # ">=" | "<="
    value: float
    label: str

    def met(self, figures: dict[str, Any]) -> bool | None:
        got = figures.get(self.figure)
        if not isinstance(got, int | float):
            return None
        return got >= self.value if self.op == ">=" else got <= self.value


TARGETS: dict[str, list[Target]] = {
    "filter-2kb": [Target("events_per_s", ">=", 30_000, "≥ 30,000 events/s"),
                   Target("cpu_us_per_event", "<=", 25, "≤ 25 CPU µs/event")],
    "delivery": [Target("activities_per_s", ">=", 2_000, "≥ 2,000 activities/s"),
                 Target("cpu_us_per_activity", "<=", 500, "≤ 500 CPU µs/activity")],
    "budget": [Target("goodput_pct", ">=", 97, "goodput ≥ 97%"),
               Target("throttled_pct", "<=", 0.2, "429s ≤ 0.2%")],
    "latency": [Target("p99_ms", "<=", 250, "p99 ≤ 250 ms")],
    "memory": [Target("peak_rss_mb", "<=", 100, "peak RSS ≤ 100 MB")],
    # the chart's default memory limit, with processing.max_pending_bytes at its default
    "memory-big": [Target("peak_rss_mb", "<=", 512, "peak RSS ≤ 512 MiB")],
}


def record(bench: str, variant: str, params: dict[str, Any], figures: dict[str, Any],
           targets: list[Target] | None = None, **extra: Any) -> dict[str, Any]:
    targets = targets or []
    met = [t.met(figures) for t in targets]
    verdict = ("no target" if not targets else "miss" if False in met or None in met else "pass")
    return {"bench": bench, "variant": variant, "params": params, "figures": figures,
            "target": " and ".join(t.label for t in targets) or None,
            "result": verdict, "pass": verdict == "pass" if targets else None, **extra}


# --- 1. filter ----------------------------------------------------------------------------------

def filter_topic(env: Env, n: int, size_kb: int) -> str:
    from bench.events import bodies, pool

    size = None if size_kb <= 2 else size_kb * 1000  # the generator's own events are ~2 KB
    return env.topic(f"filter-{size_kb}kb-{n}", n, lambda: bodies(n, pool(size, filtered=True)))


def own_filter_bench(n: int, size_kb: int, env: Env | None = None,
                     cap_s: float = 60.0) -> dict[str, Any]:
    """The consumer filtering ``n`` ``order.updated`` events of ~``size_kb`` KB: the peer bench's
    method (the group's committed offsets polled every 50 ms until they reach the end offsets).

    Same call as ``bench/filter_path.py``'s ``run_filter_bench(n, size_kb)`` (with a broker of its
    own when ``env`` is None), so either can be plugged into the harness (``--filter-impl``).
    Still going ``cap_s`` after the process started, it is measured over what it committed by
    then (``capped``: true, ``events_done`` says how many).
    """
    with contextlib.ExitStack() as stack:
        if env is None:
            env = stack.enter_context(Env())
        topic = filter_topic(env, n, size_kb)
        ends = env.end_offsets(topic)
        assert sum(ends.values()) == n, ends
        sink_before = env.sink.stats()["count"]
        progress(f"filter ~{size_kb} KB: the consumer filters {n:,} events")
        consumer = stack.enter_context(env.consumer(
            f"filter{size_kb}", topic=topic,
            base_url=env.sink.base_url))
        probe = Consumer({"bootstrap.servers": env.bootstrap, "group.id": consumer.group,
                          "enable.auto.commit": False})
        stack.callback(probe.close)
        parts = [TopicPartition(topic, p) for p in sorted(ends)]
        first: tuple[float, float, int] | None = None  # (at, cpu, committed) at the first commit
        last_note = time.monotonic()
        while True:
            consumer.check_alive()
            got = {tp.partition: tp.offset for tp in probe.committed(parts, timeout=5)}
            at, cpu = time.time(), consumer.cpu()
            done = sum(max(got[p], 0) for p in ends)
            if done and first is None:
                first = (at, cpu or 0.0, done)
            capped = at - consumer.started > cap_s
            if capped and first is None:
                raise TimeoutError(f"filter: nothing committed in {cap_s:.0f} s")
            if capped or all(got[p] >= ends[p] for p in ends):
                hwm = proc_status_mb(consumer.pid, "VmHWM")
                break
            if time.monotonic() - last_note > 10:
                last_note = time.monotonic()
                progress(f"  committed {done:,} of {n:,}")
            time.sleep(0.05)
        assert first is not None and cpu is not None
        steady_n = done - first[2]
        figures: dict[str, Any] = {
            "events_per_s": round(steady_n / max(at - first[0], 1e-6)) if steady_n else None,
            "cpu_us_per_event": round((cpu - first[1]) / steady_n * 1e6, 1) if steady_n else None,
            "whole_events_per_s": round(done / (at - consumer.started)),
            "whole_cpu_us_per_event": round(cpu / done * 1e6, 1),
            "events_done": done, "capped": capped,
            "seconds": round(at - consumer.started, 2),
            "first_commit_s": round(first[0] - consumer.started, 2),
            "peak_rss_mb": round(hwm or 0, 1),
            "posts": env.sink.stats()["count"] - sink_before,  # must stay 0: all filtered
        }
        return figures


def bench_filter(env: Env, sizes: Sizes, impl: str) -> list[dict[str, Any]]:
    out = []
    for kb in sizes.filter_kb:
        if impl == "filter_path":  # the team's bench/filter_path.py, once it is on this branch
            from bench.filter_path import run_filter_bench  # type: ignore[import-not-found]

            figures = dict(run_filter_bench(sizes.filter_n, kb))
        else:
            figures = own_filter_bench(sizes.filter_n, kb, env, sizes.filter_cap_s)
        missing = {"events_per_s", "cpu_us_per_event"} - set(figures)
        if missing:
            raise RuntimeError(f"the {impl} filter bench gave no {', '.join(sorted(missing))}")
        out.append(record("filter", f"{kb}kb", {"events": sizes.filter_n, "size_kb": kb,
                                                "impl": impl},
                          figures, TARGETS["filter-2kb"] if kb <= 2 else None))
    return out


# --- 2. delivery and 5. memory ------------------------------------------------------------------

def orders_topic(env: Env, sizes: Sizes) -> str:
    """One topic of delivered events for delivery (its first N) and memory (the backlog)."""
    from bench.events import bodies, pool

    n = max(sizes.delivery_n, sizes.memory_backlog)
    return env.topic(f"orders-{n}", n, lambda: bodies(n, pool(count=2000)))


def _await_posts(consumer: ConsumerProcess, sink: Sink, n: int, cap_s: float, timeout_s: float,
                 what: str) -> dict[str, Any]:
    """The sink's stats once it has seen the N-th POST, or, still going ``cap_s`` after the
    process started, as they are then (``capped``: count < n; CPU read here)."""
    last_note = time.monotonic()
    while True:
        consumer.check_alive()
        stats = sink.stats()
        now = time.time()
        if stats["nth_at"] is not None:
            return stats | {"peak_rss_mb": proc_status_mb(consumer.pid, "VmHWM"), "capped": False,
                            "done": n}
        if now - consumer.started > cap_s and stats["count"] > 1:
            return stats | {"peak_rss_mb": proc_status_mb(consumer.pid, "VmHWM"), "capped": True,
                            "done": stats["count"], "nth_at": now, "nth_cpu": consumer.cpu()}
        if now - consumer.started > timeout_s:
            raise TimeoutError(f"{what}: {stats['count']:,} POSTs in {timeout_s:.0f} s")
        if time.monotonic() - last_note > 10:
            last_note = time.monotonic()
            progress(f"  {stats['count']:,} of {n:,} POSTs")
        time.sleep(0.05)


def bench_delivery(env: Env, sizes: Sizes) -> list[dict[str, Any]]:
    topic = orders_topic(env, sizes)
    n = sizes.delivery_n
    out = []
    for in_flight in sizes.delivery_in_flight:
        progress(f"delivery, max_in_flight {in_flight}: {n:,} activities into the fast sink")
        sink = env.sink
        cpu_sink0 = sink.cpu_seconds()
        with env.consumer(f"delivery{in_flight}", topic=topic, base_url=sink.base_url,
                          max_in_flight=in_flight) as c:
            sink.arm(n, c.pid)
            s = _await_posts(c, sink, n, sizes.delivery_cap_s, sizes.timeout_s, "delivery")
        cpu_sink = (sink.cpu_seconds() or 0) - (cpu_sink0 or 0)
        steady, done = s["nth_at"] - s["first_at"], s["done"]
        figures = {
            "activities_per_s": round((done - 1) / max(steady, 1e-6)),
            "cpu_us_per_activity": round((s["nth_cpu"] - s["first_cpu"]) / (done - 1) * 1e6, 1),
            "whole_activities_per_s": round(done / (s["nth_at"] - c.started)),
            "whole_cpu_us_per_activity": round(s["nth_cpu"] / done * 1e6, 1),
            "activities_done": done, "capped": s["capped"],
            "first_post_s": round(s["first_at"] - c.started, 2),
            "seconds": round(s["nth_at"] - c.started, 2),
            "peak_rss_mb": round(s["peak_rss_mb"] or 0, 1),
            "sink_cpu_s": round(cpu_sink, 2),
        }
        variant = f"in_flight {in_flight}" + (" (default)" if in_flight == 16 else " (tuned)")
        out.append(record("delivery", variant, {"activities": n, "max_in_flight": in_flight},
                          figures, TARGETS["delivery"]))
    return out


def bench_memory(env: Env, sizes: Sizes) -> list[dict[str, Any]]:
    from bench.events import blob_pool, bodies

    small = _memory_row(env, sizes, orders_topic(env, sizes), sizes.memory_backlog,
                        f"{sizes.memory_backlog // 1000}k backlog, slow sink", TARGETS["memory"])
    n, kb = sizes.memory_big_n, sizes.memory_big_kb
    big_topic = env.topic(f"orders-big-{n}x{kb}kb", n,
                          lambda: bodies(n, blob_pool(kb * 1000, count=min(n, 50))))
    big = _memory_row(env, sizes, big_topic, n, f"{n:,} x {kb} KB backlog, slow sink",
                      TARGETS["memory-big"], size_kb=kb)
    return [small, big]


def _memory_row(env: Env, sizes: Sizes, topic: str, backlog: int, variant: str,
                targets: list[Target], size_kb: int | None = None) -> dict[str, Any]:
    stop_n, stop_s = min(sizes.memory_stop_n, backlog), sizes.memory_stop_s
    progress(f"memory: a {backlog:,}-event backlog{f' of {size_kb} KB events' if size_kb else ''} "
             f"into a sink answering after {sizes.memory_delay_ms:g} ms, until {stop_n:,} "
             f"delivered or {stop_s:g} s")
    sink = Sink(env.workdir, delay_ms=sizes.memory_delay_ms)
    try:
        with env.consumer("memory", topic=topic, base_url=sink.base_url) as c:
            sink.arm(stop_n, c.pid)
            deadline = c.started + stop_s
            while True:
                c.check_alive()
                stats = sink.stats()
                if stats["nth_at"] is not None or time.time() > deadline:
                    break
                time.sleep(0.1)
            at = time.time()
            hwm, rss = proc_status_mb(c.pid, "VmHWM"), proc_status_mb(c.pid, "VmRSS")
    finally:
        sink.close()
    figures = {"peak_rss_mb": round(hwm or 0, 1), "rss_mb": round(rss or 0, 1),
               "delivered": stats["count"], "seconds": round(at - c.started, 1),
               "backlog_left": backlog - stats["count"]}
    return record("memory", variant,
                  {"backlog": backlog, "size_kb": size_kb, "sink_delay_ms": sizes.memory_delay_ms,
                   "stop_after": stop_n, "stop_after_s": stop_s, "max_in_flight": 16,
                   "max_pending_messages": 1000, "max_pending_bytes": "64 MiB (default)"},
                  figures, targets)


# --- 3. budget ----------------------------------------------------------------------------------

def bench_budget(env: Env, sizes: Sizes) -> list[dict[str, Any]]:
    from bench import budget_use

    cases = [budget_use.Case.parse(name) for name in sizes.budget_cases]
    if any(c.backend == "redis" for c in cases) and not shutil.which("redis-server") \
            and not Path("/usr/bin/redis-server").exists():
        raise RuntimeError("redis-server is needed for the 3-replica cases "
                           "(make bench installs it: .ci/install-test-tools.sh)")
    progress(f"budget use: {len(cases)} cases x {sizes.budget_s:g} s "
             f"({', '.join(c.name for c in cases)})")
    with contextlib.redirect_stdout(sys.stderr):  # its own JSON lines are not ours
        results = budget_use.run_cases(cases, sizes.budget_s)
    out = []
    for r in results:
        figures = {k: r[k] for k in ("goodput_pct", "throttled_pct", "ok", "throttled",
                                     "others_accepted", "others_throttled", "seconds")}
        params = {k: r[k] for k in ("window", "replicas", "backend", "limit", "account_window_s",
                                    "time_scale", "reserve", "others_share")}
        out.append(record("budget", r["case"], params | {"duration_s": sizes.budget_s},
                          figures, TARGETS["budget"]))
    return out


# --- 4. latency ---------------------------------------------------------------------------------

LATENCY_LIMIT, LATENCY_WINDOW_S = 600, 60.0


def _epoch_ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class KafkaBaseline:
    """A bare consumer in a thread of the harness, reading the same topic: Kafka timestamp to
    its poll() returning, the broker's and librdkafka's share of the consumer's latency."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.lat_ms: list[float] = []
        self._stop = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "enable.auto.commit": False,
                                   "group.id": f"bench-latency-baseline-{time.time_ns()}",
                                   "auto.offset.reset": "earliest"})
        self._consumer.subscribe([topic])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.05)
            if msg is not None and msg.error() is None:
                self.lat_ms.append(time.time() * 1000 - msg.timestamp()[1])

    def close(self) -> list[float]:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()
        return self.lat_ms[1:]  # not the warm-up event


def bench_latency(env: Env, sizes: Sizes) -> list[dict[str, Any]]:
    from bench.events import unique_events

    rate = LATENCY_LIMIT / 2 / LATENCY_WINDOW_S  # half the budget: 5 events a second
    count = max(1, round(rate * sizes.latency_s))
    events = unique_events(count + 1)
    topic = f"latency-{int(time.time())}"
    env.kafka.create_topic(topic, 6)
    progress(f"latency: {count} events at {rate:g}/s ({sizes.latency_s:g} s) into the sandbox "
             f"({LATENCY_LIMIT} calls per {LATENCY_WINDOW_S:g} s)")
    with sandbox_process(env.workdir, rate_limit=LATENCY_LIMIT, window_s=LATENCY_WINDOW_S) as url, \
            httpx.Client(base_url=url, timeout=30) as http, \
            env.consumer("latency", topic=topic, base_url=url) as c:
        baseline = KafkaBaseline(env.bootstrap, topic)
        producer = Producer({"bootstrap.servers": env.bootstrap, "linger.ms": 0, "acks": 1})
        sent: dict[str, int] = {}

        def send(key: bytes, body: bytes, ident: str) -> None:
            ts = int(time.time() * 1000)  # the Kafka timestamp (CreateTime), set here to know it
            producer.produce(topic, value=body, key=key, timestamp=ts)
            producer.poll(0)
            sent[ident] = ts

        def seen() -> list[dict[str, Any]]:
            return http.get("/_sandbox/activities").raise_for_status().json()

        # One event first, until it is on the timeline: the group has joined, the pool is warm.
        send(*events[0])
        deadline = time.monotonic() + 60
        while not seen():
            c.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError("latency: the warm-up event never reached the sandbox")
            time.sleep(0.1)
        warm = events[0][2]
        start = time.monotonic()
        for i, event in enumerate(events[1:]):
            pause = start + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            send(*event)
        producer.flush(10)
        deadline = time.monotonic() + 20
        while len(got := seen()) < count + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        throttled = sum(1 for r in http.get("/_sandbox/requests").json() if r["status"] == 429)
        bare = baseline.close()
    received = {}
    for a in got:
        act = a["activity"]
        ident = f"{act['name']}|{(act.get('object') or {}).get('id')}"
        received.setdefault(ident, _epoch_ms(a["received_at"]))
    lat = [received[i] - ts for i, ts in sent.items() if i != warm and i in received]
    figures: dict[str, Any] = {"events": count, "received": len(lat), "throttled": throttled}
    if lat:
        figures |= {"p50_ms": round(percentile(lat, 50), 1), "p95_ms": round(percentile(lat, 95), 1),
                    "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat), 1)}
    if bare:  # what a bare consumer saw on the same broker: Kafka's own part of the latency
        figures |= {"kafka_p50_ms": round(percentile(bare, 50), 1),
                    "kafka_p99_ms": round(percentile(bare, 99), 1)}
    return [record("latency", "half the budget",
                   {"rate_per_s": rate, "seconds": sizes.latency_s, "limit": LATENCY_LIMIT,
                    "window_s": LATENCY_WINDOW_S}, figures, TARGETS["latency"])]


# --- output -------------------------------------------------------------------------------------

FIGURE_UNITS = {  # shown in the table, in this order
    "events_per_s": "{:,} events/s", "cpu_us_per_event": "{} µs/event",
    "activities_per_s": "{:,} act/s", "cpu_us_per_activity": "{} µs/act",
    "goodput_pct": "goodput {}%", "throttled_pct": "429s {}%",
    "p50_ms": "p50 {} ms", "p95_ms": "p95 {} ms", "p99_ms": "p99 {} ms",
    "kafka_p99_ms": "(bare Kafka consumer p99 {} ms)",
    "delivered": "{:,} delivered", "peak_rss_mb": "peak RSS {} MB",
}
SHOWN = {"filter": ["events_per_s", "cpu_us_per_event"],
         "delivery": ["activities_per_s", "cpu_us_per_activity", "peak_rss_mb"],
         "budget": ["goodput_pct", "throttled_pct"],
         "latency": ["p50_ms", "p95_ms", "p99_ms", "kafka_p99_ms"],
         "memory": ["peak_rss_mb", "delivered"]}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| benchmark | case | figures | target | result |", "|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['bench']} | {r.get('variant', '')} | error: "
                         f"{r['error'].splitlines()[0][:80]} | | error |")
            continue
        figs = r["figures"]
        shown = ", ".join(FIGURE_UNITS[k].format(figs[k]) for k in SHOWN[r["bench"]]
                          if figs.get(k) is not None)
        if figs.get("capped"):
            done = figs.get("events_done", figs.get("activities_done"))
            shown += f" (capped: {done:,} of {r['params'].get('events', r['params'].get('activities')):,})"
        if r.get("steal_pct"):
            shown += f"; host steal {r['steal_pct']}%"
        lines.append(f"| {r['bench']} | {r['variant']} | {shown} | {r['target'] or '-'} | "
                     f"{r['result']} |")
    return "\n".join(lines)


def host_cpu() -> tuple[int, int] | None:
    """(steal, total) clock ticks of this machine's CPUs so far, from /proc/stat (Linux)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


def steal_pct(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of this VM's CPU time its host gave to others meanwhile. A noisy host makes every
    figure slower, CPU per item included (caches, frequency): the figures are read with it."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)


RUNNERS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "filter": bench_filter, "delivery": bench_delivery, "budget": bench_budget,
    "latency": bench_latency, "memory": bench_memory,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma-separated, of {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--filter-impl", choices=("own", "filter_path"), default="own",
                        help="own: this harness's filter bench; filter_path: "
                             "bench/filter_path.py's run_filter_bench(n, size_kb)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="folder of the <timestamp>.jsonl files")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one size, e.g. --set filter_n=20000 --set budget_s=30 "
                             "(see Sizes in bench/run.py)")
    parser.add_argument("--kafka", action="append", default=[], metavar="KEY=VALUE",
                        help="a librdkafka setting for every consumer run, e.g. "
                             "--kafka queued.max.messages.kbytes=8192 (a tuning experiment)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (broker data)")
    args = parser.parse_args(argv)
    only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(only) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHES)})")
    sizes = with_overrides(QUICK if args.quick else FULL, args.set)
    changed = args.set + [f"kafka.{kv}" for kv in args.kafka]
    label = ("quick" if args.quick else "full") + (f" ({', '.join(changed)})" if changed else "")
    consumer_kafka = dict(kv.split("=", 1) for kv in args.kafka)
    about = machine()
    args.results.mkdir(parents=True, exist_ok=True)
    out_path = args.results / f"{datetime.now().strftime('%Y%m%dT%H%M%S')}.jsonl"
    progress(f"benchmarks {', '.join(only)} on "
             f"{about['cores']} cores, {about['cpu']}, Python {about['python']}, "
             f"commit {about['commit']}, {label} sizes; results to {out_path}")
    rows: list[dict[str, Any]] = []
    with Env(args.keep, consumer_kafka) as env, open(out_path, "a") as results:
        for name in (b for b in BENCHES if b in only):
            began, cpu_began = time.monotonic(), host_cpu()
            kwargs = {"impl": args.filter_impl} if name == "filter" else {}
            try:
                got = RUNNERS[name](env, sizes, **kwargs)
            except Exception as exc:  # one broken bench must not hide the others' figures
                traceback.print_exc()
                got = [{"bench": name, "error": f"{type(exc).__name__}: {exc}"}]
            steal = steal_pct(cpu_began, host_cpu())
            for row in got:
                row |= {"sizes": label, **about, "steal_pct": steal,
                        "at": datetime.now().astimezone().isoformat(timespec="seconds")}
                line = json.dumps(row, ensure_ascii=False)
                print(line, flush=True)
                results.write(line + "\n")
                results.flush()
            rows += got
            progress(f"{name} done in {time.monotonic() - began:.0f} s"
                     + (f" (the host took {steal}% of this VM's CPU time: steal)" if steal else ""))
    print(f"\n{about['cores']} cores, {about['cpu']}, Python {about['python']}, commit "
          f"{about['commit']}; {label} sizes: "
          f"{json.dumps(asdict(sizes))}\n")
    print(table(rows))
    print(f"\ntotal {elapsed():.0f} s; JSON lines in {out_path}", flush=True)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
