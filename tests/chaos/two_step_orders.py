"""The chaos proof's transform: the built-in ``orders`` one, plus a second activity for the same
customer on every third order ("… confirmed"), so that messages of several activities for one
contact are in the mix and their order on the timeline can be checked."""

from __future__ import annotations

import dataclasses
from typing import Any

from transforms import Activity, EventMeta, Filtered
from transforms.orders import order_activity


def transform(event: Any, meta: EventMeta) -> Activity | list[Activity] | Filtered | None:
    activity = order_activity(event, meta)
    if not isinstance(activity, Activity) or not event.get("two_step"):
        return activity
    second = dataclasses.replace(activity, name=f"{activity.name} (confirmed)",
                                 key=f"{activity.key}:confirmed")
    return [activity, second]
