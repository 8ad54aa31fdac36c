"""Route and transform: from a Kafka message to encoded activities, or to the reason it can't be one.

This is the pure, CPU-only part of the pipeline (decode once, call the topic's transform,
validate and encode against the contract); it runs on the poll thread because it costs tens of
microseconds, and its result is one of three things:

- ``None``: not for the timeline (filtered, settled at once);
- a :class:`~consumer.dead_letter.Failure`: dead-letter it, settled once the dead letter is written;
- a list of :class:`~consumer.delivery.Delivery`: hand it to the delivery station.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from consumer.config import Config, ConfigError, Problem, Subscription
from consumer.dead_letter import Failure
from consumer.delivery import Delivery
from consumer.message import Message
from transforms import (
    Activity,
    ContractError,
    EventMeta,
    Transform,
    TransformError,
    activity_key,
    encode,
    resolve,
)

__all__ = ["Outcome", "Route", "Router"]

log = logging.getLogger("consumer.routing")

Outcome = list[Delivery] | Failure | None


@dataclass(frozen=True, slots=True)
class Route:
    subscription: Subscription
    transform: Transform
    matches: re.Pattern[str] | None  # None: an exact topic name

    def claims(self, topic: str) -> bool:
        if self.matches is None:
            return topic == self.subscription.topic
        return self.matches.match(topic) is not None


class Router:
    """Maps each topic to the first subscription that claims it (file order)."""

    def __init__(self, routes: Sequence[Route], dead_letter_template: str = "{topic}.dlq"):
        self.routes = list(routes)
        self._cache: dict[str, Route | None] = {}
        # A regex subscription like ^orders.* also matches orders.dlq; a dead-letter topic is
        # never routed (it would loop), unless a subscription names it exactly.
        dlq = re.escape(dead_letter_template).replace(re.escape("{topic}"), ".+")
        self._dead_letter_topic = re.compile(f"^{dlq}$")

    @classmethod
    def from_config(cls, config: Config, path: str = "<config>") -> Router:
        """Resolve every transform and compile every pattern; all problems in one ConfigError."""
        routes, problems = [], []
        for i, sub in enumerate(config.subscriptions):
            try:
                transform = resolve(sub.transform)
            except LookupError as e:
                problems.append(Problem(key=f"subscriptions[{i}].transform", message=str(e),
                                        fix="use a built-in name or package.module:function "
                                            "importable from this environment"))
                continue
            pattern = None
            if sub.is_pattern:
                try:
                    pattern = re.compile(sub.topic)
                except re.error as e:
                    problems.append(Problem(key=f"subscriptions[{i}].topic",
                                            message=f"not a valid regex: {e}",
                                            fix="fix the pattern, or drop the leading ^ to name "
                                                "one topic"))
                    continue
            routes.append(Route(sub, transform, pattern))
        if problems:
            raise ConfigError(path, problems)
        return cls(routes, config.dead_letter.topic)

    @property
    def topics(self) -> list[str]:
        """What to subscribe to: names and ^regexes, as librdkafka takes them."""
        return list(dict.fromkeys(r.subscription.topic for r in self.routes))

    def route_for(self, topic: str) -> Route | None:
        try:
            return self._cache[topic]
        except KeyError:
            pass
        route = next((r for r in self.routes if r.claims(topic)), None)
        if route is not None and route.matches is not None and self._dead_letter_topic.match(topic):
            route = None
        self._cache[topic] = route
        return route

    def process(self, msg: Message, route: Route | None) -> Outcome:
        """``route`` is ``route_for(msg.topic)``, looked up once by the caller (it labels metrics too)."""
        if route is None:
            if self._dead_letter_topic.match(msg.topic):
                return None  # a dead-letter topic caught by a pattern: leave it alone
            return Failure("no_route", f"no subscription claims topic {msg.topic!r}")
        if msg.value is None:
            return None  # a tombstone is not an event
        try:
            event = orjson.loads(msg.value)
        except orjson.JSONDecodeError as e:
            return Failure("decode", f"value is not JSON: {e}")
        meta = EventMeta(msg.topic, msg.partition, msg.offset, msg.timestamp, msg.key, msg.headers)
        try:
            result = route.transform(event, meta)
        except TransformError as e:
            return Failure("transform", str(e))
        except Exception as e:  # a transform bug must not stop the partition
            log.debug("transform %s crashed on %s", route.subscription.transform, msg.where(),
                      exc_info=True)
            return Failure("transform", f"transform {route.subscription.transform!r} raised "
                                        f"{type(e).__name__}: {e}")
        return _encode_all(result, route.subscription.transform)


def _encode_all(result: object, transform_name: str) -> Outcome:
    if result is None:
        return None
    activities = [result] if isinstance(result, Activity) else result
    if not isinstance(activities, list) or not all(isinstance(a, Activity) for a in activities):
        return Failure("transform", f"transform {transform_name!r} returned "
                                    f"{type(result).__name__}; expected Activity, a list of "
                                    "them, or None")
    deliveries = []
    for activity in activities:
        try:
            body = encode(activity)
        except ContractError as e:
            return Failure("validation", str(e))
        field, value = activity.contact.identifier()  # type: ignore[misc]  # encode checked it
        deliveries.append(Delivery(activity_key(activity, body), f"{field}:{value.lower()}", body))
    return deliveries or None
