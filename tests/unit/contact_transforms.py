"""A transform for the parking tests: customers teach the directory, charges name only them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from transforms import Activity, Actor, Contact, EventMeta, Filtered, Link, Source

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def transform(event: Any, meta: EventMeta) -> Activity | Link | Filtered:
    if event["kind"] == "customer":
        return Link(f"test:{event['id']}", contact=Contact(email=event["email"]))
    if event["kind"] == "charge":
        return Activity(f"Charge {event['id']} failed", Contact(refs=(f"test:{event['customer']}",)),
                        Actor(event["customer"], "Customer"), Source("test", meta.topic), WHEN,
                        key=f"test:{event['id']}")
    return Filtered("not_shown", f"{event['kind']} is not shown")
