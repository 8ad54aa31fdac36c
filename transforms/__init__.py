"""Transforms: Kafka events in, Freshdesk timeline activities out (pure functions, no I/O).

A transform is ``(event, meta) -> Activity | Link | list[Activity | Link] | Filtered | None``;
``check`` sorts and validates that for the transform stage (contacts may still be vendor refs),
``encode`` validates a resolved Activity against the contract (shared/freshdesk-contract.md) and
gives the request body.

Built-ins (BUILTIN_TRANSFORMS): ``orders`` and ``payments`` (docs/event-schema.md), ``shopify``,
``stripe``, ``woocommerce``, ``adyen``, ``commercetools``, ``paypal`` and ``square``
(docs/vendors.md; ``transforms.<vendor>.configure(...)`` makes configured ones). Your own: the
README, "Write a transform in 10 minutes". A transform may carry a probe that filters from the
raw bytes, before the decode (``transforms.probe``).
"""

from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.contract import (
    Checked,
    ContractError,
    activity_key,
    check,
    clean_text,
    encode,
    vendor_ref,
)
from transforms.event import (
    FILTER_REASONS,
    FILTERED_UNSPECIFIED,
    EventMeta,
    Filtered,
    Transform,
    TransformError,
)
from transforms.money import minor_to_major, money, parse_amount
from transforms.registry import BUILTIN_TRANSFORMS, resolve
from transforms.timefmt import iso_utc, parse_time

__all__ = [
    "BUILTIN_TRANSFORMS",
    "FILTERED_UNSPECIFIED",
    "FILTER_REASONS",
    "Activity",
    "ActivityObject",
    "Actor",
    "Checked",
    "Contact",
    "ContractError",
    "EventMeta",
    "Filtered",
    "Link",
    "Source",
    "Transform",
    "TransformError",
    "activity_key",
    "check",
    "clean_text",
    "encode",
    "iso_utc",
    "minor_to_major",
    "money",
    "parse_amount",
    "parse_time",
    "resolve",
    "vendor_ref",
]
