"""The README's worked example ("Write a transform in 10 minutes", examples/returns_transform.py)
does what the guide says: found by import path, one activity per status, filtered or rejected
with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from examples.returns_transform import return_activity
from transforms import Activity, EventMeta, TransformError, activity_key, encode, resolve

META = EventMeta("returns", 0, 12, datetime(2024, 5, 3, 11, 0, tzinfo=UTC), None)


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "return_id": "RMA-1042", "status": "requested", "at": "2024-05-03T10:15:00Z",
        "customer": {"email": "rachel@example.com", "name": "Rachel Green"},
        "order_number": "1001",
        "items": [{"name": "White Ace Sneakers", "quantity": 1, "reason": "too small"}],
        "refund": {"amount": "42.00", "currency": "USD"},
        "link": "https://returns.example/rma/RMA-1042",
    }
    return base | changes


def activity_of(ev: dict[str, Any]) -> Activity:
    activity = return_activity(ev, META)
    assert isinstance(activity, Activity)
    encode(activity)
    return activity


def test_the_subscription_file_finds_it_by_import_path() -> None:
    assert resolve("examples.returns_transform:return_activity") is return_activity


def test_a_requested_return_is_the_customers_activity() -> None:
    activity = activity_of(event())
    assert activity.name == "Return RMA-1042 requested"
    assert activity.description == "Return RMA-1042 for order #1001 was requested."
    assert activity.actor.name == "Rachel Green" and activity.actor.type == "contact"
    assert activity.contact.identifier() == ("email", "rachel@example.com")
    assert activity.timestamp == datetime(2024, 5, 3, 10, 15, tzinfo=UTC)
    assert activity.context == {
        "Return ID": "RMA-1042", "Status": "requested", "Order number": "#1001",
        "Item 1": {"Item name": "White Ace Sneakers", "Reason": "too small"}}
    assert activity_key(activity, encode(activity)) == "returns:RMA-1042:requested"


def test_a_refunded_return_shows_the_money_with_its_currency() -> None:
    activity = activity_of(event(status="refunded", refund={"amount": 5000, "currency": "JPY"}))
    assert activity.name == "Return RMA-1042 refunded"
    assert activity.description == (
        "Return RMA-1042 for order #1001 was refunded: 5000 JPY back to the customer.")
    assert activity.actor.type == "system"


def test_statuses_an_agent_does_not_need_are_filtered() -> None:
    assert return_activity(event(status="label_printed"), META) is None


def test_without_a_time_the_kafka_timestamp_is_used() -> None:
    ev = event()
    del ev["at"]
    assert activity_of(ev).timestamp == META.timestamp


def test_long_item_lists_are_trimmed() -> None:
    items = [{"name": f"Sock {i}"} for i in range(14)]
    context = activity_of(event(items=items)).context
    assert context is not None
    assert "Item 10" in context and "Item 11" not in context
    assert context["More"] == "and 4 more"


@pytest.mark.parametrize(("changes", "reason"), [
    ({"customer": {"name": "Rachel"}}, "return RMA-1042 has no customer.email"),
    ({"return_id": None}, "return event has no return_id"),
    ({"at": "yesterday"}, "at: 'yesterday' is not an ISO-8601 time"),
    ({"status": "refunded", "refund": {"amount": "42.00"}}, "refund.currency None is not"),
])
def test_bad_events_are_rejected_with_the_reason(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(TransformError, match=reason):
        return_activity(event(**changes), META)
