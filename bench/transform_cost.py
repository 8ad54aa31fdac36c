"""µs per message for the CPU-only station: decode (orjson) + transform + encode (contract check).

The route/transform station runs on the poll thread for every message, delivered or filtered, so
it must stay in the tens of µs (shared/architecture.md). One representative event per built-in
transform, and one event each transform filters:

    .venv/bin/python bench/transform_cost.py [--n 20000] [--repeat 5]

Prints the best of --repeat runs (best, because a noisy 2-core machine only ever adds time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from consumer_devtools.samples import order_event, payment_event
from transforms import BUILTIN_TRANSFORMS, Activity, EventMeta, encode

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vendors"


def cases() -> list[tuple[str, str, bytes, EventMeta]]:
    now = datetime(2024, 5, 1, tzinfo=UTC)

    def meta(topic: str, headers: tuple = ()) -> EventMeta:
        return EventMeta(topic, 0, 0, now, None, headers)

    viewed = order_event(1)
    viewed["type"] = "order.viewed"
    shopify_order = (FIXTURES / "shopify" / "order_2019-04_test-notification.json").read_bytes()
    stripe_files = sorted((FIXTURES / "stripe").glob("evt_checkout.session.completed*.json"))
    out = [
        ("orders", "order.created (3 items)", orjson.dumps(order_event(1)), meta("orders")),
        ("orders", "filtered (unknown type)", orjson.dumps(viewed), meta("orders")),
        ("payments", "payment.failed", orjson.dumps(payment_event(1, "payment.failed")),
         meta("payments")),
        ("shopify", "orders/create", shopify_order,
         meta("shopify", (("X-Shopify-Topic", b"orders/create"),))),
    ]
    if stripe_files:
        out.append(("stripe", "checkout.session.completed", stripe_files[0].read_bytes(),
                    meta("stripe")))
        other = json.loads(stripe_files[0].read_bytes())
        other["type"] = "customer.updated"
        out.append(("stripe", "filtered (customer.updated)", orjson.dumps(other), meta("stripe")))
    return out


def per_message(transform: Any, raw: bytes, meta: EventMeta, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        result = transform(orjson.loads(raw), meta)
        if isinstance(result, Activity):
            encode(result)
    return (time.perf_counter() - start) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; best of {args.repeat} x {args.n} messages")
    for name, label, raw, meta in cases():
        transform = BUILTIN_TRANSFORMS[name]
        best = min(per_message(transform, raw, meta, args.n) for _ in range(args.repeat))
        print(f"  {name:9} {label:32} {best * 1e6:6.1f} µs/message  ({len(raw)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
