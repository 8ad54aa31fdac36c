"""CPU per POST of the HTTP clients we could deliver with, against the sandbox in another process.

The client is the hot path (shared/architecture.md): this measures the consumer process's own CPU
time (not wall time, which the server and a noisy machine distort) per small POST, at concurrency
1 and 32, for:

- httpx.AsyncClient with its default transport (httpcore),
- httpx.AsyncClient with the aiohttp transport (package httpx-aiohttp),
- bare aiohttp.ClientSession (the floor),
- the consumer's own FreshdeskClient (aiohttp with bounded reads, plus classifying each answer
  into a Reply). The hand-written httptools engine it had until 2026-12 measured ~150 µs.

    .venv/bin/python bench/http_client.py [--requests 3000] [--repeat 3] [--only freshdesk,bare]

Prints µs of client CPU per request (best of --repeat), of which user space (the libraries'
Python; the rest is the kernel's, mostly loopback sends, noisy on a busy machine), and the ratio to
bare aiohttp. Ratios are
what to compare across machines; the absolute numbers depend on this one (noted in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

BODY = (b'{"activity":{"name":"Order #1001 placed","timestamp":"2024-05-01T09:02:11Z",'
        b'"actor":{"id":"cus_1","name":"Rachel","type":"contact"},"source":{"name":"shop",'
        b'"id":"orders"}},"contact":{"email":"rachel@example.com"}}')
AUTH = ("sandbox-key", "X")
# This checkout's consumer package, not whichever one the virtualenv has installed (an editable
# install of another worktree would otherwise be measured as "FreshdeskClient").
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HEADERS = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(post: Callable[[], Awaitable[int]], n: int, concurrency: int) -> tuple[float, float]:
    """Client CPU seconds (all, user space) for n posts at the given concurrency."""
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            status = await post()
            assert status == 200, status

    await asyncio.gather(*(one() for _ in range(min(50, n))))  # warm connections and caches
    cpu, user = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
    await asyncio.gather(*(one() for _ in range(n)))
    return time.process_time() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_utime - user


Client = Callable[[str, int, int], Awaitable[tuple[float, float]]]


async def _httpx_default(url: str, n: int, concurrency: int) -> tuple[float, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(auth=AUTH, headers=HEADERS, limits=limits) as client:
        return await run(lambda: _status(client.post(url, content=BODY)), n, concurrency)


async def _httpx_aiohttp(url: str, n: int, concurrency: int) -> tuple[float, float]:
    from httpx_aiohttp import AiohttpTransport
    transport = AiohttpTransport(client=lambda: aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency)))
    async with httpx.AsyncClient(auth=AUTH, headers=HEADERS, transport=transport) as client:
        return await run(lambda: _status(client.post(url, content=BODY)), n, concurrency)


async def _aiohttp_bare(url: str, n: int, concurrency: int) -> tuple[float, float]:
    basic = "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    async with aiohttp.ClientSession(headers={**HEADERS, "Authorization": basic},
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def post() -> int:
            async with session.post(url, data=BODY) as response:
                await response.read()
                return response.status
        return await run(post, n, concurrency)


async def _freshdesk_client(url: str, n: int, concurrency: int) -> tuple[float, float]:
    from consumer.config import FreshdeskSettings
    from consumer.delivery.freshdesk import PATH, FreshdeskClient
    client = FreshdeskClient(FreshdeskSettings(base_url=url.removesuffix(PATH), api_key=AUTH[0],
                                               max_in_flight=concurrency))
    try:
        return await run(lambda: _reply_status(client.post(BODY)), n, concurrency)
    finally:
        await client.aclose()


def clients() -> dict[str, Client]:
    found: dict[str, Client] = {"httpx (default transport)": _httpx_default}
    try:
        import httpx_aiohttp  # noqa: F401  (the dev extra; the service no longer needs it)
        found["httpx + aiohttp transport"] = _httpx_aiohttp
    except ImportError:
        pass
    found["aiohttp (bare)"] = _aiohttp_bare
    found["FreshdeskClient"] = _freshdesk_client
    return found


def bench(url: str, n: int, concurrency: int, only: list[str] | None = None
          ) -> dict[str, tuple[float, float]]:
    # Each client in an event loop of its own: none inherits another's leftovers (connections
    # still closing, cancelled timers, tasks). Bare aiohttp always: the ratios' floor.
    chosen = {name: client for name, client in clients().items()
              if only is None or name == "aiohttp (bare)"
              or any(word.lower() in name.lower() for word in only)}
    return {name: asyncio.run(client(url, n, concurrency)) for name, client in chosen.items()}


async def _status(response: Awaitable[httpx.Response]) -> int:
    return (await response).status_code


async def _reply_status(reply: Awaitable[Any]) -> int:
    status = (await reply).status
    return -1 if status is None else status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="comma-separated words: only the clients whose names have "
                        "one (bare aiohttp always runs: the floor)")
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "consumer_devtools", "sandbox", "--port", str(port), "--db", ":memory:",
         "--rate-limit", "100000000"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/api/v2/contact-activities"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}; sandbox in another process; "
              f"{args.requests} POSTs, best of {args.repeat}; FreshdeskClient from {ROOT}")
        for concurrency in (1, 32):
            best: dict[str, float] = {}
            best_user: dict[str, float] = {}
            for _ in range(args.repeat):
                for name, (cpu, user) in bench(url, args.requests, concurrency,
                                                 args.only.split(",") if args.only else None
                                                 ).items():
                    best[name] = min(cpu, best.get(name, float("inf")))
                    best_user[name] = min(user, best_user.get(name, float("inf")))
            floor = best["aiohttp (bare)"]
            print(f"\nconcurrency {concurrency}: client CPU per POST")
            for name, cpu in best.items():
                print(f"  {name:28} {cpu / args.requests * 1e6:7.0f} µs "
                      f"({best_user[name] / args.requests * 1e6:5.0f} user)   "
                      f"{cpu / floor:4.1f}x bare aiohttp")
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
