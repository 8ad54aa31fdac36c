"""CPU µs per message of a declarative JSONata mapping (transforms.mapping), on the poll thread.

A 10-field mapping (key, contact, name, timestamp, description, actor, source, object and two
context entries) over a 20-field order event; each row is measured alone:

- ``jsonata evaluate``: jsonata-python's evaluate() of the expression, nothing else;
- ``Mapping.evaluate``: what the pipeline calls: the bindings, the input walk that hands 16+
  digit integers in as strings, the evaluation, the result read into an Activity;
- ``+ encode``: and the contract check and encoding of transforms.encode;
- ``debezium unwrap``: the Debezium envelope on a change event with its inline schema
  (Connect logical types decoded), for comparison;
- with ``--registry``: decoding the Avro worked example (examples/inputs/avro-orders) and a
  JSON value, through a Schema Registry started for the run (the schema cached after the first).

    .venv/bin/python bench/mapping_cost.py [--n 3000] [--repeat 5] [--registry]

CPU time (process_time), best of --repeat runs: a noisy 2-core machine only ever adds time.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from transforms import EventMeta, encode
from transforms.envelopes import envelope_for
from transforms.mapping import Mapping, bindings_for

ROOT = Path(__file__).resolve().parent.parent
TEN_FIELDS = """{
  "key": "orders:" & id,
  "contact": {"email": customer.email},
  "activity": {
    "name": "Order " & number & " " & status,
    "timestamp": created_at,
    "description": "Order " & number & " for " & total & " " & currency,
    "actor": {"id": customer.id, "name": customer.name},
    "source": {"name": "shop", "id": $topic},
    "object": {"type": "order", "id": id, "link": "https://shop.example/orders/" & id},
    "context": {"Items": $count(items), "Total": total & " " & currency}
  }
}"""
EVENT: dict[str, Any] = {
    "id": 820982911946154508, "number": "#1001", "status": "paid", "currency": "USD",
    "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:05:00Z",
    "total": "89.99", "subtotal": "79.99", "tax": "10.00", "shipping": "0.00",
    "customer": {"id": 115310627314723954, "name": "Rachel Green", "email": "rachel@example.com",
                 "phone": "+15550100"},
    "items": [{"sku": f"SKU-{i}", "name": f"Item {i}", "quantity": 1, "price": "39.99"}
              for i in range(2)],
    "shipping_address": {"city": "New York", "country": "US"},
    "note": None, "tags": ["vip"], "gateway": "stripe", "test": False, "source_name": "web",
}


def cpu_us(rows: list[tuple[str, Callable[[], Any]]], n: int, repeat: int) -> dict[str, float]:
    """Best CPU µs per call of each row; the rows take turns, so a busy minute on this shared
    machine slows all of them alike instead of whichever row it fell on."""
    best = {name: float("inf") for name, _ in rows}
    for _ in range(repeat):
        for name, step in rows:
            start = time.process_time()
            for _ in range(n):
                step()
            best[name] = min(best[name], time.process_time() - start)
    return {name: seconds / n * 1e6 for name, seconds in best.items()}


def decode_rows() -> list[tuple[str, Callable[[], Any]]]:
    from decimal import Decimal

    import orjson
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from consumer.config import SchemaRegistrySettings
    from consumer.decoding import SchemaRegistry, make_decoder
    from consumer_devtools.schema_registry import LocalSchemaRegistry

    example = ROOT / "examples/inputs/avro-orders"
    record = json.loads((example / "event.json").read_text())["value"]
    native = {**record, "total": Decimal(record["total"]),
              "placed_at": datetime.fromisoformat(record["placed_at"])}
    registry = LocalSchemaRegistry().start()
    print(f"# registry started in {registry.startup_seconds:.1f}s")
    try:
        client = SchemaRegistryClient({"url": registry.url})
        wire = AvroSerializer(client, (example / "order.avsc").read_text())(
            native, SerializationContext("bench", MessageField.VALUE))
        settings = SchemaRegistrySettings.model_validate({"url": registry.url})
        avro = make_decoder("avro", SchemaRegistry(settings))
        avro(wire, "bench")  # the one registry request; every later decode hits the cache
    finally:
        registry.cleanup()
    as_json = orjson.dumps(record)
    json_decode = make_decoder("json")
    return [("decode avro (schema cached)", lambda: avro(wire, "bench")),
            ("decode json", lambda: json_decode(as_json, "bench"))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--registry", action="store_true",
                        help="also decode an Avro value through a registry started here")
    args = parser.parse_args(argv)
    meta = EventMeta("orders", 0, 0, datetime(2024, 5, 1, tzinfo=UTC), b"k", (("trace", b"t"),))
    mapping = Mapping(TEN_FIELDS, "bench:10-fields")
    expression = mapping._expression
    plain_event = {**EVENT, "id": str(EVENT["id"]), "customer": {**EVENT["customer"],
                                                                 "id": str(EVENT["customer"]["id"])}}
    bindings = bindings_for(meta)
    [activity] = mapping.evaluate(EVENT, meta)  # type: ignore[misc]
    change = json.loads((ROOT / "tests/fixtures/inputs/debezium/"
                         "postgresql_orders_update_logical-types_built.json").read_text())
    unwrap = envelope_for("debezium")
    rows = [
        ("jsonata evaluate", lambda: expression.evaluate(plain_event, bindings)),
        ("Mapping.evaluate", lambda: mapping.evaluate(EVENT, meta)),
        ("Mapping.evaluate + encode", lambda: [encode(a) for a in mapping.evaluate(EVENT, meta)]),  # type: ignore[union-attr]
        ("debezium unwrap (inline schema)", lambda: unwrap(change, meta)),
    ]
    if args.registry:
        rows += decode_rows()
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"n={args.n}, best of {args.repeat}; body {len(encode(activity))} bytes")
    for name, us in cpu_us(rows, args.n, args.repeat).items():
        print(f"{name:34s} {us:8.1f} CPU µs/message")


if __name__ == "__main__":
    main()
