"""µs per call of the contact directory, which runs on the poll thread for every Link and every
activity without a direct identifier, so it must stay far below the tens of µs a message costs.

    .venv/bin/python bench/directory_cost.py [--n 20000] [--repeat 5] [--redis-url redis://…]

Without --redis-url a throwaway redis-server (Debian's package) is started on 127.0.0.1. Prints
the best of --repeat runs per case, and the memory each ref costs (Python and Redis).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path

from consumer.contacts.directory import MemoryDirectory, RedisDirectory
from consumer.contacts.waiting_room import WaitingRoom
from transforms.activity import Contact, Link


def links(n: int, tag: str) -> list[Link]:
    """Per customer: the customer's email and a charge that aliases it (a Stripe stream's shape)."""
    out = []
    for i in range(n // 2):
        out.append(Link(f"stripe:cus_{tag}{i}", contact=Contact(email=f"c{i}@example.com")))
        out.append(Link(f"stripe:ch_{tag}{i}", alias_of=f"stripe:cus_{tag}{i}"))
    return out


def best(fn: Callable[[], int], repeat: int) -> tuple[float, float]:
    """(wall, CPU) µs per call, each the best of ``repeat`` runs (a noisy machine only ever adds
    time). CPU is this process's: what the poll thread spends; wall adds the wait for Redis."""
    wall, cpu = [], []
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        calls = fn()
        wall.append((time.perf_counter() - start) / calls * 1e6)
        cpu.append((time.process_time() - start_cpu) / calls * 1e6)
    return min(wall), min(cpu)


def bench_memory(n: int, repeat: int) -> list[tuple[str, tuple[float, float]]]:
    d = MemoryDirectory()
    ls = links(n, "m")
    d.learn(ls)
    cus = [[f"stripe:cus_m{i}"] for i in range(n // 2)]
    ch = [[f"stripe:ch_m{i}"] for i in range(n // 2)]
    miss = [[f"stripe:cus_x{i}"] for i in range(n // 2)]

    def resolve(refs: list[list[str]]) -> Callable[[], int]:
        return lambda: [d.resolve(r) for r in refs] and len(refs)

    def learn_batches() -> int:
        for i in range(0, n, 500):
            d.learn(ls[i:i + 500])
        return n

    def learn_one_by_one() -> int:
        for link in ls:
            d.learn((link,))
        return n

    room: WaitingRoom[int] = WaitingRoom(d, max_waiting=n, wait_s=3600)
    fresh_sets = [links(n, f"w{k}") for k in range(repeat)]  # made outside the timing

    def park_and_release() -> int:
        fresh = fresh_sets.pop()
        for i in range(0, n, 2):  # a charge waits on ch_ (→ cus_, unknown yet)
            room.park(i, [fresh[i + 1].ref], watch=[fresh[i + 1].ref, fresh[i].ref])
        for i in range(0, n, 2):  # the customer arrives: learn, release
            d.learn(fresh[i:i + 2])
            room.released_by(fresh[i:i + 2])
        return n // 2

    return [
        ("memory learn, batches of 500 (per Link)", best(learn_batches, repeat)),
        ("memory learn, one Link a call", best(learn_one_by_one, repeat)),
        ("memory resolve cus_ → email", best(resolve(cus), repeat)),
        ("memory resolve ch_ → cus_ → email", best(resolve(ch), repeat)),
        ("memory resolve unknown ref", best(resolve(miss), repeat)),
        ("waiting room park + learn 2 Links + released_by (per item)", best(park_and_release, repeat)),
    ]


def bench_redis(url: str, n: int, repeat: int) -> list[tuple[str, tuple[float, float]]]:
    prefix = f"bench-{uuid.uuid4().hex[:6]}:"
    d = RedisDirectory(url, prefix=prefix, cache_entries=n * 2)
    ls = links(n, "r")
    d.learn(ls)
    d.flush()
    cus = [[f"stripe:cus_r{i}"] for i in range(n // 2)]
    ch = [[f"stripe:ch_r{i}"] for i in range(n // 2)]
    for r in ch:
        d.resolve(r)  # warm the cache

    def resolve(dir_: Callable[[], RedisDirectory], refs: list[list[str]]) -> Callable[[], int]:
        def run() -> int:
            target = dir_()
            for r in refs:
                target.resolve(r)
            target.close() if target is not d else None
            return len(refs)
        return run

    def cold() -> RedisDirectory:
        return RedisDirectory(url, prefix=prefix)

    def learn_batches() -> int:
        for i in range(0, n, 500):
            d.learn(ls[i:i + 500])
            d.flush()
        return n

    def learn_flush_each() -> int:
        for link in ls[: n // 4]:
            d.learn((link,))
            d.flush()
        return n // 4

    small = n // 4
    return [
        ("redis learn, flush per 500 Links (per Link)", best(learn_batches, repeat)),
        ("redis learn + flush per Link", best(learn_flush_each, repeat)),
        ("redis resolve cus_, cache hit", best(resolve(lambda: d, cus), repeat)),
        ("redis resolve ch_ → cus_, cache hit", best(resolve(lambda: d, ch), repeat)),
        ("redis resolve cus_, cache miss (1 round trip)", best(resolve(cold, cus[:small]), repeat)),
        ("redis resolve ch_ → cus_, cache miss (1 round trip)",
         best(resolve(cold, ch[:small]), repeat)),
        ("redis resolve unknown ref (1 round trip, never cached)",
         best(resolve(lambda: d, [[f"stripe:nope{i}"] for i in range(small)]), repeat)),
    ]


def sizes(url: str, n: int) -> list[tuple[str, float]]:
    import redis

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    d = MemoryDirectory()
    d.learn(links(n, "s"))
    per_ref_py = (tracemalloc.get_traced_memory()[0] - before) / n
    tracemalloc.stop()
    raw = redis.Redis.from_url(url)
    prefix = f"size-{uuid.uuid4().hex[:6]}:"
    used = int(raw.info("memory")["used_memory"])
    rd = RedisDirectory(url, prefix=prefix)
    rd.learn(links(n, "s"))
    rd.flush()
    per_ref_redis = (int(raw.info("memory")["used_memory"]) - used) / n
    rd.close()
    raw.close()
    return [("bytes per ref, memory backend (half emails, half aliases)", per_ref_py),
            ("bytes per ref in Redis (the same, with TTL)", per_ref_redis)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    server = None
    url = args.redis_url
    if url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' fixture
        from tests.fixtures.redis import RedisServer

        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        server = RedisServer(binary, Path(tempfile.mkdtemp(prefix="bench-redis-"))).start()
        url = server.url
    try:
        rows = bench_memory(args.n, args.repeat) + bench_redis(url, args.n, args.repeat)
        print(f"{'':<58} {'wall µs':>9} {'CPU µs':>9}")
        for name, (wall, cpu) in rows:
            print(f"{name:<58} {wall:9.2f} {cpu:9.2f}")
        for name, size in sizes(url, 100_000):
            print(f"{name:<58} {size:9.0f} B")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
