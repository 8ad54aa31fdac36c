"""Transforms: Kafka events in, Freshdesk timeline activities out (pure functions, no I/O).

A transform is ``(event, meta) -> Activity | list[Activity] | Filtered | None``; ``encode`` validates an
Activity against the contract (shared/freshdesk-contract.md) and gives the request body.

Built-ins (BUILTIN_TRANSFORMS): ``orders`` and ``payments`` (docs/event-schema.md), ``shopify`` and
``stripe`` (docs/vendors.md; ``transforms.shopify.configure(...)`` and
``transforms.stripe.configure(...)`` make configured ones). Your own: the README, "Write a
transform in 10 minutes".
"""

from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.contract import ContractError, activity_key, encode
from transforms.event import FILTERED_UNSPECIFIED, EventMeta, Filtered, Transform, TransformError
from transforms.money import minor_to_major, money, parse_amount
from transforms.registry import BUILTIN_TRANSFORMS, resolve
from transforms.timefmt import iso_utc, parse_time

__all__ = [
    "BUILTIN_TRANSFORMS",
    "FILTERED_UNSPECIFIED",
    "Activity",
    "ActivityObject",
    "Actor",
    "Contact",
    "ContractError",
    "EventMeta",
    "Filtered",
    "Link",
    "Source",
    "Transform",
    "TransformError",
    "activity_key",
    "encode",
    "iso_utc",
    "minor_to_major",
    "money",
    "parse_amount",
    "parse_time",
    "resolve",
]
