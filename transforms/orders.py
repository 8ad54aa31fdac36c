"""Built-in transform for the generic ``orders`` topic (schema and examples: docs/event-schema.md).

One event, one activity, keyed ``orders:<event_id>``, object = the order (with its link):

=================  ========================================  ===================================
type               name                                      actor
=================  ========================================  ===================================
order.created      Order #1001 placed                        the customer
order.paid         Order #1001 paid                          the customer
order.cancelled    Order #1001 cancelled                     the customer when ``cancelled_by``
                                                             is "customer", else the shop
order.fulfilled    Order #1001 shipped (or fulfilled)        the shop
order.refunded     Order #1001 refunded (or partly refunded) the shop
=================  ========================================  ===================================

Any other type is not for the timeline: ``Filtered("event_type_not_shown")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from transforms._envelope import (
    Envelope,
    amount,
    as_words,
    child,
    clip,
    currency,
    event_type,
    humanize,
    ident,
    read_envelope,
    reason_text,
    require,
    required_child,
    text,
)
from transforms._sniff import MARKER_KEYS
from transforms.activity import Activity, ActivityObject, Actor
from transforms.event import EventMeta, Filtered, TransformError
from transforms.money import money
from transforms.probe import type_probe, with_probe

__all__ = ["MAX_ITEMS", "order_activity"]

MAX_ITEMS = 10  # items listed one by one; the rest are counted ("and 4 more")


@dataclass(frozen=True, slots=True)
class _Order:
    id: str
    label: str  # "#1001": the number an agent and the customer both use
    currency: str | None
    total: Decimal | None
    status: str | None
    link: str | None
    raw: dict[str, Any]

    def money(self, value: Decimal, where: str, currency_code: str | None = None) -> str:
        code = currency_code or self.currency
        if code is None:
            raise TransformError(f"order.currency is missing (needed to show {where})")
        return money(value, code)


_Built = tuple[str, str, Actor, dict[str, Any]]  # name, description, actor, context


def order_activity(event: Any, meta: EventMeta) -> Activity | Filtered:
    """The timeline activity for one order event, or Filtered when its type is not one we show."""
    kind = event_type(event, "orders")
    build = _BUILDERS.get(kind)
    if build is None:
        return _not_shown(kind)
    env = read_envelope(event, meta, "shop")
    order = _read_order(event, kind)
    return env.activity(*build(event, env, order),
                        obj=ActivityObject(type="order", id=order.id, link=order.link),
                        key=f"orders:{env.event_id}")


def _read_order(event: dict[str, Any], kind: str) -> _Order:
    raw = required_child(event, "order", "order", kind)
    order_id = require(ident(raw, "id", "order.id"), "order.id", kind)
    number = text(raw, "number", "order.number") or order_id
    total = amount(raw, "total", "order.total")
    status = text(raw, "status", "order.status")
    return _Order(
        id=order_id,
        label=number if number.startswith("#") else f"#{number}",
        currency=currency(raw, "currency", "order.currency"),
        total=total,
        status=humanize(status) if status else None,
        link=text(raw, "link", "order.link"),
        raw=raw,
    )


def _created(event: dict[str, Any], env: Envelope, order: _Order) -> _Built:
    context = _summary(order, "placed")
    who = env.customer_name or "The customer"
    total = f" for {context['Total']}" if order.total is not None else ""
    items = _items(order, context)
    count = f" ({items} item{'' if items == 1 else 's'})" if items else ""
    return (
        f"Order {order.label} placed",
        f"{who} placed order {order.label}{total}{count}.",
        env.customer,
        context,
    )


def _paid(event: dict[str, Any], env: Envelope, order: _Order) -> _Built:
    context = _summary(order, "paid")
    who = env.customer_name or "The customer"
    paid = f" {context['Total']}" if order.total is not None else ""
    _items(order, context)
    return (
        f"Order {order.label} paid",
        f"{who} paid{paid} for order {order.label}.",
        env.customer,
        context,
    )


def _cancelled(event: dict[str, Any], env: Envelope, order: _Order) -> _Built:
    context = _summary(order, "cancelled")
    reason = text(event, "reason", "reason")
    by_customer = (text(event, "cancelled_by", "cancelled_by") or "").lower() == "customer"
    total = f" ({context['Total']})" if order.total is not None else ""
    because = f": {reason_text(reason)}" if reason else ""
    if by_customer:
        who = env.customer_name or "The customer"
        description = f"{who} cancelled order {order.label}{total}{because}."
    else:
        description = f"Order {order.label}{total} was cancelled{because}."
    context["Cancelled by"] = "customer" if by_customer else env.source.name
    if reason:
        context["Cancellation reason"] = as_words(reason)
    _items(order, context)
    return (
        f"Order {order.label} cancelled",
        description,
        env.customer if by_customer else env.system(),
        context,
    )


def _fulfilled(event: dict[str, Any], env: Envelope, order: _Order) -> _Built:
    fulfillment = child(event, "fulfillment", "fulfillment") or {}
    carrier = text(fulfillment, "carrier", "fulfillment.carrier")
    tracking = text(fulfillment, "tracking_number", "fulfillment.tracking_number")
    tracking_url = text(fulfillment, "tracking_url", "fulfillment.tracking_url")
    shipped = bool(carrier or tracking)
    context = _summary(order, "shipped" if shipped else "fulfilled")
    if not shipped:
        description = f"Order {order.label} was fulfilled."
    else:
        via = f" with {carrier}" if carrier else ""
        number = f", tracking number {tracking}" if tracking else ""
        description = f"Order {order.label} was shipped{via}{number}."
    if carrier:
        context["Carrier"] = carrier
    if tracking:
        context["Tracking number"] = tracking
    if tracking_url:
        context["Tracking link"] = tracking_url
    _items(order, context)
    return (
        f"Order {order.label} {'shipped' if shipped else 'fulfilled'}",
        description,
        env.system(),
        context,
    )


def _refunded(event: dict[str, Any], env: Envelope, order: _Order) -> _Built:
    refund = child(event, "refund", "refund") or {}
    refunded = amount(refund, "amount", "refund.amount")
    code = currency(refund, "currency", "refund.currency")
    reason = text(refund, "reason", "refund.reason")
    partly = refunded is not None and order.total is not None and refunded < order.total
    context = _summary(order, "partly refunded" if partly else "refunded")
    because = f": {reason_text(reason)}" if reason else ""
    if refunded is None:
        description = f"Order {order.label} was refunded{because}."
    else:
        shown = order.money(refunded, "refund.amount", code)
        context["Refund amount"] = shown
        if partly:
            of_total = f"{shown} of order {order.label} ({context['Total']})"
            description = f"{of_total} was refunded{because}."
        elif order.total is not None and refunded == order.total:
            description = f"Order {order.label} was refunded in full ({shown}){because}."
        else:
            description = f"{shown} of order {order.label} was refunded{because}."
    if reason:
        context["Refund reason"] = as_words(reason)
    return (
        f"Order {order.label} {'partly refunded' if partly else 'refunded'}",
        description,
        env.system(),
        context,
    )


_BUILDERS: dict[str, Callable[[dict[str, Any], Envelope, _Order], _Built]] = {
    "order.created": _created,
    "order.paid": _paid,
    "order.cancelled": _cancelled,
    "order.fulfilled": _fulfilled,
    "order.refunded": _refunded,
}


def _not_shown(kind: str) -> Filtered:
    return Filtered("event_type_not_shown", f"orders: {clip(kind, 100)} is not shown on the "
                                            "timeline")


# Filtered types are settled from the raw bytes, without a decode (transforms.probe).
with_probe(order_activity, type_probe(_BUILDERS, _not_shown, unsure_before=MARKER_KEYS))


def _summary(order: _Order, default_status: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "Order number": order.label,
        "Status": order.status or default_status,
    }
    if order.total is not None:
        context["Total"] = order.money(order.total, "order.total")
    return context


def _items(order: _Order, context: dict[str, Any]) -> int:
    """Adds "Items" (units) and "Item description" (first MAX_ITEMS lines) to ``context``;
    returns the number of units."""
    items = order.raw.get("items")
    if items is None:
        return 0
    if not isinstance(items, list):
        raise TransformError("order.items: expected an array of items")
    units = 0
    described: dict[str, Any] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise TransformError(f"order.items[{index}]: expected an object")
        quantity = item.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise TransformError(
                f"order.items[{index}].quantity: expected a whole number ≥ 0 (got {quantity!r})"
            )
        units += quantity
        if index < MAX_ITEMS:
            described[f"Item {index + 1}"] = _item(order, item, index, quantity)
    if len(items) > MAX_ITEMS:
        described["More"] = f"and {len(items) - MAX_ITEMS} more"
    context["Items"] = units
    context["Item description"] = described
    return units


def _item(order: _Order, item: dict[str, Any], index: int, quantity: int) -> dict[str, Any]:
    where = f"order.items[{index}]"
    sku = text(item, "sku", f"{where}.sku")
    name = text(item, "name", f"{where}.name") or sku or f"Item {index + 1}"
    line: dict[str, Any] = {"Item name": clip(name), "Quantity": quantity}
    price = amount(item, "price", f"{where}.price")
    if price is not None:
        line["Price"] = order.money(price, f"{where}.price")
    if sku:
        line["SKU"] = clip(sku, 100)
    options = child(item, "options", f"{where}.options")
    if options:
        for key, value in options.items():
            label = key.strip()[:1].upper() + key.strip()[1:60]
            if label and value is not None:
                line.setdefault(label, _option_text(value))
    return line


def _option_text(value: Any) -> str:
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, int | float | bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return clip(orjson.dumps(value).decode())
