"""CPU per POST of the HTTP clients we could deliver with, against the sandbox in another process.

The client is the hot path (shared/architecture.md): this measures the consumer process's own CPU
time (not wall time, which the server and a noisy machine distort) per small POST, at concurrency
1 and 32, for:

- httpx.AsyncClient with its default transport (httpcore),
- httpx.AsyncClient with the aiohttp transport (package httpx-aiohttp),
- bare aiohttp.ClientSession (the floor).

    .venv/bin/python bench/http_client.py [--requests 3000] [--repeat 3]

Prints µs of client CPU per request (best of --repeat) and the ratio to bare aiohttp. Ratios are
what to compare across machines; the absolute numbers depend on this one (noted in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

BODY = (b'{"activity":{"name":"Order #1001 placed","timestamp":"2024-05-01T09:02:11Z",'
        b'"actor":{"id":"cus_1","name":"Rachel","type":"contact"},"source":{"name":"shop",'
        b'"id":"orders"}},"contact":{"email":"rachel@example.com"}}')
AUTH = ("sandbox-key", "X")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(post: Callable[[], Awaitable[int]], n: int, concurrency: int) -> float:
    """Client CPU seconds for n posts at the given concurrency."""
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            status = await post()
            assert status == 200, status

    await asyncio.gather(*(one() for _ in range(min(50, n))))  # warm connections and caches
    cpu = time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.process_time() - cpu


async def bench(url: str, n: int, concurrency: int) -> dict[str, float]:
    results: dict[str, float] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json"}

    async with httpx.AsyncClient(auth=AUTH, headers=headers, limits=limits) as client:
        results["httpx (default transport)"] = await run(
            lambda: _status(client.post(url, content=BODY)), n, concurrency)

    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        AiohttpTransport = None
    if AiohttpTransport is not None:
        transport = AiohttpTransport(client=lambda: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency)))
        async with httpx.AsyncClient(auth=AUTH, headers=headers, transport=transport) as client:
            results["httpx + aiohttp transport"] = await run(
                lambda: _status(client.post(url, content=BODY)), n, concurrency)

    basic = "Basic " + base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    async with aiohttp.ClientSession(headers={**headers, "Authorization": basic},
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def post() -> int:
            async with session.post(url, data=BODY) as response:
                await response.read()
                return response.status
        results["aiohttp (bare)"] = await run(post, n, concurrency)
    return results


async def _status(response: Awaitable[httpx.Response]) -> int:
    return (await response).status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "consumer", "sandbox", "--port", str(port), "--db", ":memory:",
         "--rate-limit", "100000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
              f"{args.requests} POSTs, best of {args.repeat}")
        for concurrency in (1, 32):
            best: dict[str, float] = {}
            for _ in range(args.repeat):
                for name, cpu in asyncio.run(bench(url, args.requests, concurrency)).items():
                    best[name] = min(cpu, best.get(name, float("inf")))
            floor = best["aiohttp (bare)"]
            print(f"\nconcurrency {concurrency}: client CPU per POST")
            for name, cpu in best.items():
                print(f"  {name:28} {cpu / args.requests * 1e6:7.0f} µs   "
                      f"{cpu / floor:4.1f}x bare aiohttp")
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
