"""Example of your own transform: a returns service's events on the customer's timeline.

The worked example of the README ("Write a transform in 10 minutes"). Subscribe a topic to it by import path::

    subscriptions:
      - topic: returns
        transform: examples.returns_transform:return_activity

The events it reads (your producer's format; anything you like)::

    {"return_id": "RMA-1042", "status": "requested", "at": "2024-05-03T10:15:00Z",
     "customer": {"email": "rachel@example.com", "name": "Rachel Green"},
     "order_number": "1001",
     "items": [{"name": "White Ace Sneakers", "quantity": 1, "reason": "too small"}],
     "refund": {"amount": "42.00", "currency": "USD"},
     "link": "https://returns.example/rma/RMA-1042"}
"""

from __future__ import annotations

from typing import Any

from transforms import (
    Activity,
    ActivityObject,
    Actor,
    Contact,
    EventMeta,
    Source,
    TransformError,
    money,
    parse_amount,
    parse_time,
)

MAX_ITEMS = 10  # keep the body well under Freshdesk's 64 KiB whatever the producer sends

# status -> (what happened, who did it): the customer asks; the warehouse receives and refunds.
STATUSES = {
    "requested": ("requested", "customer"),
    "received": ("received at the warehouse", "shop"),
    "refunded": ("refunded", "shop"),
}


def return_activity(event: Any, meta: EventMeta) -> Activity | None:
    """One return event -> one timeline activity; None for statuses an agent does not need."""
    if not isinstance(event, dict):
        raise TransformError("return event is not a JSON object")
    status = event.get("status")
    if status not in STATUSES:
        return None  # e.g. "label_printed": not for the timeline
    what, who = STATUSES[status]

    return_id = _text(event, "return_id")
    if return_id is None:
        raise TransformError("return event has no return_id")
    customer = event["customer"] if isinstance(event.get("customer"), dict) else {}
    email = _text(customer, "email")
    if email is None:
        raise TransformError(f"return {return_id} has no customer.email")
    name = _text(customer, "name")

    at = event.get("at")
    timestamp = parse_time(at, "at") if at is not None else meta.timestamp
    if timestamp is None:
        raise TransformError(f"return {return_id} has no 'at' time and no Kafka timestamp")

    context: dict[str, Any] = {"Return ID": return_id, "Status": status}
    order = _text(event, "order_number")
    if order:
        context["Order number"] = f"#{order.lstrip('#')}"
    items: list[Any] = event["items"] if isinstance(event.get("items"), list) else []
    for number, item in enumerate(items[:MAX_ITEMS], start=1):
        if isinstance(item, dict):
            context[f"Item {number}"] = {"Item name": _text(item, "name") or "unnamed item",
                                         "Reason": _text(item, "reason") or "not given"}
    if len(items) > MAX_ITEMS:
        context["More"] = f"and {len(items) - MAX_ITEMS} more"

    description = f"Return {return_id}" + (f" for order #{order.lstrip('#')}" if order else "")
    description += f" was {what}."
    refund = event.get("refund")
    if status == "refunded" and isinstance(refund, dict) and refund.get("amount") is not None:
        currency = refund.get("currency")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise TransformError(f"return {return_id}: refund.currency {currency!r} is not a "
                                 "currency code like \"USD\"")
        shown = money(parse_amount(refund["amount"], "refund.amount"), currency)
        context["Refund"] = shown
        description = description[:-1] + f": {shown} back to the customer."

    shop = Actor(id="returns-service", name="Returns", type="system")
    customer_actor = Actor(id=email, name=name or email, type="contact")
    return Activity(
        name=f"Return {return_id} {what}",
        contact=Contact(email=email),
        actor=customer_actor if who == "customer" else shop,
        source=Source(name="Returns", id=meta.topic),
        timestamp=timestamp,
        description=description,
        object=ActivityObject(type="return", id=return_id, link=_text(event, "link")),
        context=context,
        key=f"returns:{return_id}:{status}",  # the same event twice is the same activity
    )


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:200]
