"""Sample order and payment events (schema: docs/event-schema.md) for the demo and the tests.

Deterministic: no clock, no randomness. ``order_event(n, ...)`` and ``payment_event(n, ...)``
describe the same order n (order id ``ord_00000n``, number ``1000 + n``, same items and total),
so a test can tell a consistent story with one sequence number.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["BAD_EMAIL", "demo_events", "order_event", "payment_event"]

BAD_EMAIL = "rachel(at)example.com"  # the one demo address Freshdesk refuses (400)

_BASE = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
# (name, sku, unit price, options)
_CATALOG: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    ("White Ace Sneakers", "SNK-ACE-WHT-10", "42.00", {"size": "10 UK"}),
    ("Merino Crew Socks", "SCK-MER-GRY-M", "4.00", {"size": "M", "colour": "grey"}),
    ("Canvas Tote Bag", "BAG-CNV-NAT", "18.50", {}),
    ("Packable Rain Jacket", "JKT-RAIN-NVY-L", "89.00", {"size": "L", "colour": "navy"}),
    ("Leather Card Holder", "ACC-CARD-BRN", "24.00", {"colour": "brown"}),
)
_STATUS = {
    "order.created": "placed",
    "order.paid": "paid",
    "order.cancelled": "cancelled",
    "order.fulfilled": "shipped",
    "order.refunded": "partially_refunded",
}


def _at(seq: int) -> str:
    return (_BASE + timedelta(minutes=seq)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _customer(seq: int, email: str | None, customer: str | None) -> dict[str, Any]:
    """``customer`` is a short handle ("rachel"): id ``cus_rachel``, name "Rachel", email
    ``rachel@example.com`` unless ``email`` is given."""
    handle = customer or f"customer{seq}"
    return {
        "id": f"cus_{handle}",
        "name": handle.replace("_", " ").title(),
        "email": email or f"{handle}@example.com",
    }


def _items(seq: int) -> list[dict[str, Any]]:
    items = []
    for line in range(1 + seq % 3):
        name, sku, price, options = _CATALOG[(seq + line) % len(_CATALOG)]
        item: dict[str, Any] = {"name": name, "sku": sku, "quantity": 1 + line, "price": price}
        if options:
            item["options"] = dict(options)
        items.append(item)
    return items


def _total(items: list[dict[str, Any]]) -> str:
    return str(sum((Decimal(i["price"]) * i["quantity"] for i in items), Decimal("0.00")))


def _envelope(seq: int, type: str, email: str | None, customer: str | None) -> dict[str, Any]:
    return {
        "event_id": f"{type}:{seq:06d}",
        "type": type,
        "occurred_at": _at(seq),
        "customer": _customer(seq, email, customer),
        "source": {"name": "Demo Shop", "id": "shop.example"},
    }


def order_event(
    seq: int, type: str = "order.created", *, email: str | None = None, customer: str | None = None
) -> dict[str, Any]:
    """One event for the ``orders`` topic (any ``type``; unknown ones are for filter tests)."""
    items = _items(seq)
    event = _envelope(seq, type, email, customer)
    event["order"] = {
        "id": f"ord_{seq:06d}",
        "number": 1000 + seq,
        "status": _STATUS.get(type, "placed"),
        "currency": "USD",
        "total": _total(items),
        "items": items,
        "link": f"https://shop.example/admin/orders/{1000 + seq}",
    }
    if type == "order.cancelled":
        event["reason"] = "ordered the wrong size"
        event["cancelled_by"] = "customer"
    elif type == "order.fulfilled":
        tracking = f"1Z999AA1{seq:010d}"
        event["fulfillment"] = {
            "carrier": "UPS",
            "tracking_number": tracking,
            "tracking_url": f"https://www.ups.com/track?tracknum={tracking}",
        }
    elif type == "order.refunded":
        event["refund"] = {"amount": items[0]["price"], "reason": "item arrived damaged"}
    return event


def payment_event(
    seq: int,
    type: str = "payment.succeeded",
    *,
    email: str | None = None,
    customer: str | None = None,
) -> dict[str, Any]:
    """One event for the ``payments`` topic, paying for order ``seq``."""
    total = _total(_items(seq))
    event = _envelope(seq, type, email, customer)
    event["payment"] = {
        "id": f"pay_{seq:06d}",
        "order_id": f"ord_{seq:06d}",
        "order_number": str(1000 + seq),
        "amount": total,
        "currency": "USD",
        "method": "card",
        "card_brand": "visa",
        "card_last4": "4242",
        "link": f"https://payments.example/payments/pay_{seq:06d}",
    }
    if type == "payment.failed":
        event["payment"]["failure_code"] = "insufficient_funds"
        event["payment"]["failure_message"] = "Your card has insufficient funds."
    elif type == "payment.refunded":
        event["refund"] = {"amount": _items(seq)[0]["price"], "reason": "requested_by_customer"}
    elif type == "payment.disputed":
        event["dispute"] = {
            "reason": "product_not_received",
            "amount": total,
            "evidence_due_by": (_BASE + timedelta(minutes=seq, days=14)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
    return event


_DEMO_PEOPLE = {  # handle: (name, email)
    "rachel": ("Rachel Green", "rachel@example.com"),
    "monica": ("Monica Geller", "monica@example.com"),
    "joey": ("Joey Tribbiani", "joey@example.com"),
    "chandler": ("Chandler Bing", "chandler@example.com"),
    "guest_5": ("Rachel Green", BAD_EMAIL),
}
_DEMO_ORDERS: dict[int, tuple[str, list[dict[str, Any]]]] = {  # seq: (currency, items)
    1: ("USD", [
        {"name": "White Ace Sneakers", "sku": "SNK-ACE-WHT-10", "quantity": 1, "price": "42.00",
         "options": {"size": "10 UK"}},
        {"name": "Merino Crew Socks", "sku": "SCK-MER-GRY-M", "quantity": 2, "price": "4.00",
         "options": {"size": "M", "colour": "grey"}},
    ]),
    4: ("EUR", _items(4)),
}
_SOCKS_REFUND = {"amount": "8.00", "reason": "socks arrived with a hole"}
_FEDEX = {
    "carrier": "FedEx",
    "tracking_number": "771234567890",
    "tracking_url": "https://www.fedex.com/fedextrack/?trknbr=771234567890",
}
# (occurred_at, topic, order seq, type, customer handle, changes merged into the event)
_DEMO_STORY: tuple[tuple[str, str, int, str, str, dict[str, Any]], ...] = (
    ("2024-05-01T09:02:11Z", "orders", 1, "order.created", "rachel", {}),
    ("2024-05-01T09:02:35Z", "payments", 1, "payment.failed", "rachel", {}),
    ("2024-05-01T09:09:02Z", "payments", 1, "payment.succeeded", "rachel",
     {"payment": {"card_brand": "mastercard", "card_last4": "5454"}}),
    ("2024-05-01T09:09:05Z", "orders", 1, "order.paid", "rachel", {}),
    ("2024-05-01T09:15:40Z", "orders", 2, "order.created", "monica", {}),
    ("2024-05-01T09:16:02Z", "payments", 2, "payment.succeeded", "monica", {}),
    ("2024-05-01T09:16:04Z", "orders", 2, "order.paid", "monica", {}),
    ("2024-05-01T11:30:00Z", "orders", 3, "order.created", "joey",
     {"customer": {"phone": "+15550100003"}}),
    ("2024-05-01T11:30:31Z", "payments", 3, "payment.succeeded", "joey", {}),
    ("2024-05-01T11:30:33Z", "orders", 3, "order.paid", "joey", {}),
    ("2024-05-01T14:03:00Z", "orders", 4, "order.created", "chandler", {}),
    ("2024-05-01T14:03:41Z", "payments", 4, "payment.succeeded", "chandler", {}),
    ("2024-05-01T14:03:44Z", "orders", 4, "order.paid", "chandler", {}),
    ("2024-05-01T16:45:10Z", "orders", 5, "order.created", "guest_5", {}),
    ("2024-05-01T17:20:00Z", "orders", 2, "order.cancelled", "monica", {}),
    ("2024-05-01T17:20:09Z", "payments", 2, "payment.refunded", "monica",
     {"refund": {"amount": None, "reason": "requested_by_customer"}}),
    ("2024-05-02T10:05:00Z", "orders", 1, "order.fulfilled", "rachel", {}),
    ("2024-05-02T10:40:00Z", "orders", 3, "order.fulfilled", "joey", {"fulfillment": _FEDEX}),
    ("2024-05-02T11:00:00Z", "orders", 4, "order.fulfilled", "chandler", {}),
    ("2024-05-03T15:12:00Z", "orders", 1, "order.refunded", "rachel", {"refund": _SOCKS_REFUND}),
    ("2024-05-03T15:12:04Z", "payments", 1, "payment.refunded", "rachel",
     {"refund": _SOCKS_REFUND}),
    ("2024-05-09T08:30:00Z", "payments", 4, "payment.disputed", "chandler",
     {"dispute": {"evidence_due_by": "2024-05-23T23:59:59Z"}}),
)


def demo_events() -> list[tuple[str, bytes, bytes]]:
    """A small story as ``(topic, key, value)``, oldest first; key = customer id, so one
    customer's events stay in order within a partition.

    - Rachel orders sneakers and socks (#1001, 50.00 USD). Her first payment fails for
      insufficient funds (her banking app still shows a hold for that attempt, which is why she
      will call), the retry with another card succeeds, the order ships, and the damaged socks
      are refunded (8.00 USD).
    - Monica pays for #1002, then cancels it (wrong size) and gets a full refund.
    - Joey's #1003 ships with FedEx, tracking included.
    - Chandler's #1004 (EUR) ships, then he disputes the payment: "not received".
    - A guest checkout typed ``rachel(at)example.com``: the ONE event Freshdesk refuses (400);
      everything else is valid.
    """
    out = []
    for at, topic, seq, type, handle, changes in _DEMO_STORY:
        name, email = _DEMO_PEOPLE[handle]
        build = order_event if topic == "orders" else payment_event
        event = build(seq, type, email=email, customer=handle)
        event["occurred_at"] = at
        event["customer"]["name"] = name
        if seq in _DEMO_ORDERS:
            code, items = _DEMO_ORDERS[seq]
            if topic == "orders":
                event["order"].update(currency=code, items=items, total=_total(items))
            else:
                event["payment"].update(currency=code, amount=_total(items))
        for section, values in changes.items():
            event[section] = {**event.get(section, {}), **values}
        if type == "payment.refunded" and event["refund"]["amount"] is None:
            event["refund"]["amount"] = event["payment"]["amount"]  # a full refund
        if type == "payment.disputed":
            event["dispute"]["amount"] = event["payment"]["amount"]
        out.append((topic, event["customer"]["id"].encode(), orjson.dumps(event)))
    return out
