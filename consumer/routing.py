"""Route and transform: from a Kafka message to encoded activities, or to the reason it can't be one.

This is the pure, CPU-only part of the pipeline (decode once, call the topic's transform,
validate and encode against the contract); it runs on the poll thread because it costs tens of
microseconds, and its result is one of three things:

- :class:`~transforms.Filtered`: not for the timeline (settled at once), with its reason;
- a :class:`~consumer.dead_letters.producer.Failure`: dead-letter it, settled once the dead letter is written;
- a tuple of :class:`~consumer.job.Delivery`: hand it to the delivery station.

The transform itself runs in :mod:`consumer.transform_runner`, shared with ``try``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from consumer.config import Config, ConfigError, Problem, Subscription
from consumer.message import Message
from consumer.outcomes import Failure, Outcome
from consumer.transform_runner import ContactLookup, decode, run_transform
from transforms import EventMeta, Filtered, Transform, resolve
from transforms.probe import Probe, probe_of

__all__ = ["DEAD_LETTER_TOPIC", "LEARN_ONLY", "TOMBSTONE", "Outcome", "Route", "Router"]

TOMBSTONE = Filtered("tombstone", "a tombstone (null value) is not an event")
LEARN_ONLY = Filtered("learn_only", "the subscription only feeds the contact directory")
DEAD_LETTER_TOPIC = Filtered("dead_letter_topic", "a dead-letter topic caught by a pattern is left alone")


@dataclass(frozen=True, slots=True)
class Route:
    subscription: Subscription
    transform: Transform
    matches: re.Pattern[str] | None  # None: an exact topic name
    probe: Probe | None = None  # the transform's (transforms.probe); filled in when not given

    def __post_init__(self) -> None:
        if self.probe is None:
            object.__setattr__(self, "probe", probe_of(self.transform))

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

    def transform_name(self, topic: str) -> str:
        """The name of the topic's transform (a metric label), "none" when no route claims it."""
        route = self.route_for(topic)
        return route.subscription.transform if route else "none"

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

    def triage(self, route: Route | None, topic: str, value: bytes | None) -> Filtered | Failure | None:
        """What can be told before decoding, once per message: no route, a tombstone, or a type
        the transform filters, told from the bytes (transforms.probe); None: transform it."""
        if route is None:
            if self._dead_letter_topic.match(topic):
                return DEAD_LETTER_TOPIC
            return Failure("no_route", f"no subscription claims topic {topic!r}")
        if value is None:
            return TOMBSTONE
        probe = route.probe
        return probe(value) if probe is not None else None

    def transform(self, msg: Message, route: Route, directory: ContactLookup | None = None) -> Outcome:
        """Decode and transform a message that :meth:`triage` let through."""
        assert msg.value is not None  # triage filtered tombstones
        event = decode(msg.value)
        if isinstance(event, Failure):
            return event
        meta = EventMeta(msg.topic, msg.partition, msg.offset, msg.timestamp, msg.key, msg.headers)
        outcome = run_transform(route.transform, route.subscription.transform, event, meta, directory)
        if route.subscription.learn_only and not isinstance(outcome, (Failure, Filtered)):
            return LEARN_ONLY  # its Links were learned above; activities and waits are not ours
        return outcome

    def process(self, msg: Message, directory: ContactLookup | None = None) -> Outcome:
        """Triage, then transform: the whole way for one message (``try``, parked events)."""
        route = self.route_for(msg.topic)
        early = self.triage(route, msg.topic, msg.value)
        if early is not None or route is None:
            return early  # type: ignore[return-value]  # route None: triage gave a reason
        return self.transform(msg, route, directory)
