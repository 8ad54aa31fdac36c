"""How much of the account's budget the pacer spends, and how many of its calls meet a 429.

Starts its own sandbox (a process of its own, over HTTP) and, for the shared cases, its own
redis-server; then for each case N replicas, each a process with one asyncio loop, an
AccountBudget and the consumer's FreshdeskClient, post as fast as their budget lets them
(a backlog that never ends, ``max_in_flight`` 16 each).

The account: 600 calls per 60 s, accelerated tenfold (the sandbox's clock runs at
``--time-scale 10``: its 60-second window passes in 6 real seconds, so the pacers are given
``window_s: 6``), fixed or sliding, with another integration spending 20% of every window at
random moments (seeded). The reserve is the default 10%.

    .venv/bin/python bench/budget_use.py [--duration 60] [--cases fixed-1,sliding-3-redis,...]

Goodput is our accepted calls as a share of what was ours to take: the budget less the larger of
the reserve and what the other integration really spent (it spends 20%, more than the 10%
reserve, so ours is 80%). 429s are counted over our calls. One JSON line per case, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LIMIT, ACCOUNT_WINDOW_S, TIME_SCALE = 600, 60.0, 10.0  # 600 per 60 s, a window in 6 real s
ALL_CASES = ("fixed-1", "sliding-1", "fixed-3-redis", "sliding-3-redis", "fixed-3-local",
             "sliding-3-local")


@dataclass(frozen=True)
class Case:
    window: str  # fixed | sliding
    replicas: int
    backend: str  # local | redis

    @classmethod
    def parse(cls, name: str) -> Case:
        window, replicas, *backend = name.split("-")
        return cls(window, int(replicas), backend[0] if backend else "local")

    @property
    def name(self) -> str:
        return f"{self.window}-{self.replicas}" + (f"-{self.backend}" if self.replicas > 1 else "")


# --- one replica (a process of its own) ------------------------------------------------------------

BODY = (b'{"activity":{"name":"Order #1001 placed","timestamp":"2024-05-01T09:02:11Z",'
        b'"actor":{"id":"cus_1","name":"Rachel","type":"contact"},"source":{"name":"shop",'
        b'"id":"orders"}},"contact":{"email":"rachel@example.com"}}')


async def _replica(spec: dict[str, Any]) -> dict[str, Any]:
    from consumer.config import FreshdeskSettings, LedgerSettings
    from consumer.delivery.answers import Answer
    from consumer.delivery.budget import make_budget
    from consumer.delivery.freshdesk import FreshdeskClient

    freshdesk = FreshdeskSettings(base_url=spec["base_url"], api_key="sandbox-key",
                                  max_in_flight=spec["in_flight"], budget=spec["budget"])
    budget = make_budget(freshdesk, LedgerSettings())
    client = FreshdeskClient(freshdesk)
    counts = {"ok": 0, "throttled": 0, "other": 0}
    print("ready", flush=True)
    duration = float(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))

    async def worker() -> None:
        while True:
            await budget.wait()
            reply = await client.post(BODY)
            budget.observe(reply.budget_total, reply.budget_remaining, reply.budget_used)
            if reply.answer is Answer.THROTTLED:
                assert reply.retry_after is not None
                budget.throttle(reply.retry_after)
                counts["throttled"] += 1
            elif reply.answer is Answer.DELIVERED:
                counts["ok"] += 1
            else:
                counts["other"] += 1

    started = time.time()
    workers = [asyncio.create_task(worker()) for _ in range(spec["in_flight"])]
    await asyncio.sleep(duration)
    for w in workers:
        w.cancel()
    stopped = time.time()
    _, stuck = await asyncio.wait(workers, timeout=10)
    for task in stuck:  # a cancel swallowed somewhere: say where, do not hang the bench
        task.print_stack(file=sys.stderr)
    await client.aclose()
    await budget.aclose()
    return {**counts, "started": started, "stopped": stopped,
            "model": budget._schedule.model.describe()}


def replica_main(spec_json: str) -> int:
    print(json.dumps(asyncio.run(_replica(json.loads(spec_json)))), flush=True)
    return 0


# --- the harness ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start on port {port}")
        time.sleep(0.05)


@contextlib.contextmanager
def sandbox_process(workdir: Path, window: str, others_share: float, seed: int) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "consumer_devtools", "sandbox", "--port", str(port),
           "--db", str(workdir / f"sandbox-{port}.db"), "--rate-limit", str(LIMIT),
           "--window-seconds", str(ACCOUNT_WINDOW_S), "--time-scale", str(TIME_SCALE),
           "--window-kind", window, "--others-share", str(others_share), "--seed", str(seed)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, "the sandbox")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@contextlib.contextmanager
def redis_process(workdir: Path) -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def run_case(case: Case, base_url: str, redis_url: str | None, duration: float,
             reserve: float = 0.10, in_flight: int = 16) -> dict[str, Any]:
    """Run one case against a running sandbox; returns its JSON-able result."""
    window_s = ACCOUNT_WINDOW_S / TIME_SCALE
    budget: dict[str, Any] = {"window_s": window_s, "reserve": reserve, "backend": case.backend}
    if case.backend == "redis":
        budget |= {"url": redis_url, "prefix": f"bench:{time.monotonic_ns()}:"}
    procs = []
    for i in range(case.replicas):
        spec = {"base_url": base_url, "in_flight": in_flight, "budget": {**budget, "replica": f"r{i}"}}
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "--replica", json.dumps(spec)], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for p in procs:  # every replica imported and built: start them together
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    httpx.post(base_url + "/_sandbox/reset", timeout=10).raise_for_status()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(f"{duration}\n")
        p.stdin.flush()
    replicas = [json.loads(p.communicate(timeout=duration + 60)[0].strip().splitlines()[-1])
                for p in procs]
    # The span the replicas posted in (each says when it started and stopped, on this host's
    # clock): not the processes' start-up and shutdown around it.
    elapsed = max(r["stopped"] for r in replicas) - min(r["started"] for r in replicas)
    log = httpx.get(base_url + "/_sandbox/requests", timeout=30).json()
    others = httpx.get(base_url + "/_sandbox/budget", timeout=10).json()["others"]
    ok = sum(1 for r in log if r["status"] == 200)
    throttled = sum(1 for r in log if r["status"] == 429)
    windows = elapsed / window_s
    others_per_window = others["accepted"] / windows
    available = LIMIT - max(reserve * LIMIT, others_per_window)
    return {
        "bench": "budget_use", "case": case.name, "window": case.window,
        "replicas": case.replicas, "backend": case.backend, "limit": LIMIT,
        "account_window_s": ACCOUNT_WINDOW_S, "time_scale": TIME_SCALE, "window_s": window_s,
        "reserve": reserve, "others_share": others["share"], "seconds": round(elapsed, 2),
        "ok": ok, "throttled": throttled, "others_accepted": others["accepted"],
        "others_throttled": others["throttled"],
        "goodput_pct": round(100 * ok / windows / available, 2),
        "throttled_pct": round(100 * throttled / max(1, ok + throttled), 3),
        "replicas_seen": replicas,
        "cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
    }


def run_cases(cases: list[Case], duration: float, others_share: float = 0.2,
              seed: int = 1) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="budget-use-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            redis_url = None
            if any(c.backend == "redis" for c in cases):
                redis_url = stack.enter_context(redis_process(workdir))
            for window in dict.fromkeys(c.window for c in cases):
                with sandbox_process(workdir, window, others_share, seed) as base_url:
                    for case in (c for c in cases if c.window == window):
                        result = run_case(case, base_url, redis_url, duration)
                        print(json.dumps(result), flush=True)
                        results.append(result)
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| case | window | replicas | backend | goodput % of (budget - reserve) | 429 % of our calls "
             "| ours ok / 429 | others ok / 429 |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['case']} | {r['window']} | {r['replicas']} | {r['backend']} | "
                     f"{r['goodput_pct']:.1f} | {r['throttled_pct']:.2f} | {r['ok']} / "
                     f"{r['throttled']} | {r['others_accepted']} / {r['others_throttled']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="real seconds per case")
    parser.add_argument("--cases", default=",".join(ALL_CASES),
                        help=f"comma-separated, of {', '.join(ALL_CASES)}")
    parser.add_argument("--others-share", type=float, default=0.2)
    parser.add_argument("--replica", help=argparse.SUPPRESS)  # internal: run one replica
    args = parser.parse_args()
    if args.replica:
        return replica_main(args.replica)
    cases = [Case.parse(name) for name in args.cases.split(",")]
    results = run_cases(cases, args.duration, args.others_share)
    print(f"\nbudget use: {LIMIT} calls per {ACCOUNT_WINDOW_S:g} s accelerated x{TIME_SCALE:g} "
          f"(a window every {ACCOUNT_WINDOW_S / TIME_SCALE:g} real s), another integration at "
          f"{args.others_share:.0%}, reserve 10%, {args.duration:g} s per case; "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
