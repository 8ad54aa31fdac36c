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

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from consumer.config import Config, ConfigError, Problem, Subscription
from consumer.decoding.result import Decoded, DecodeResult, RegistryUnavailable
from consumer.message import Message
from consumer.outcomes import Failure, Outcome, Unavailable
from consumer.transform_runner import ContactLookup, decode, run_transform
from transforms import EventMeta, Filtered, Transform, resolve
from transforms.envelopes import envelope_for, enveloped
from transforms.probe import Probe, probe_of

if TYPE_CHECKING:  # the registry's client and serdes are imported only when a route needs them
    from consumer.decoding import Decoder, SchemaRegistry

__all__ = ["DEAD_LETTER_TOPIC", "LEARN_ONLY", "TOMBSTONE", "Outcome", "Route", "Router"]

TOMBSTONE = Filtered("tombstone", "a tombstone (null value) is not an event")
LEARN_ONLY = Filtered("learn_only", "the subscription only feeds the contact directory")
_UNDECODED = object()  # transform(): decode the value
DEAD_LETTER_TOPIC = Filtered("dead_letter_topic", "a dead-letter topic caught by a pattern is left alone")


@dataclass(frozen=True, slots=True)
class Route:
    subscription: Subscription
    transform: Transform  # the built-in, import or mapping, behind its envelope when it has one
    matches: re.Pattern[str] | None  # None: an exact topic name
    probe: Probe | None = None  # the transform's (transforms.probe); filled in when not given
    decode: Decoder | None = None  # a registry format's decoder; None: JSON (decode() below)
    decode_key: Decoder | None = None  # key_format other than raw

    def __post_init__(self) -> None:
        plain = self.decode is None and self.subscription.envelope == "none"
        if self.probe is None and plain:  # a probe reads JSON bytes as the transform sees them
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
        """Resolve every transform, compile every mapping and pattern, build every decoder;
        all problems in one ConfigError (check-config shows them)."""
        registry = None
        if config.schema_registry is not None:  # the registry's client and serdes: only then
            from consumer.decoding import SchemaRegistry
            registry = SchemaRegistry(config.schema_registry)
        routes, problems = [], []
        for i, sub in enumerate(config.subscriptions):
            made = _route(sub, f"subscriptions[{i}]", path, registry)
            if isinstance(made, Problem):
                problems.append(made)
            else:
                routes.append(made)
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
        return route.subscription.name if route else "none"

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

    def transform(self, msg: Message, route: Route, directory: ContactLookup | None = None,
                  decoded: Any = _UNDECODED) -> Outcome:
        """Decode and transform a message that :meth:`triage` let through. ``decoded``: the
        value already decoded (``try`` hands over the JSON a registry format decodes to)."""
        assert msg.value is not None  # triage filtered tombstones
        event = _decode(route, msg) if decoded is _UNDECODED else decoded
        if isinstance(event, (Failure, Unavailable)):
            return event
        transform = route.transform
        if route.decode_key is not None:
            key = _decoded(route.decode_key(msg.key, msg.topic), "key")
            if isinstance(key, (Failure, Unavailable)):
                return key
            # enveloped() takes the mapping's extra variables: the decoded key as $key
            transform = cast(Transform, functools.partial(transform, extra={"key": key}))  # type: ignore[call-arg]
        meta = EventMeta(msg.topic, msg.partition, msg.offset, msg.timestamp, msg.key, msg.headers)
        outcome = run_transform(transform, route.subscription.name, event, meta, directory)
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


def _route(sub: Subscription, key: str, path: str, registry: SchemaRegistry | None
           ) -> Route | Problem:
    """One subscription's route, or the Problem that keeps it from being one."""
    inner = _inner(sub, key, path)
    if isinstance(inner, Problem):
        return inner
    pattern = None
    if sub.is_pattern:
        try:
            pattern = re.compile(sub.topic)
        except re.error as e:
            return Problem(key=f"{key}.topic", message=f"not a valid regex: {e}",
                           fix="fix the pattern, or drop the leading ^ to name one topic")
    wrapped = sub.envelope != "none" or sub.mapping is not None
    transform = enveloped(envelope_for(sub.envelope, snapshot=sub.snapshot), inner) if wrapped \
        else inner
    decode = decode_key = None
    try:
        if sub.format != "json":
            from consumer.decoding import make_decoder
            decode = make_decoder(sub.format, registry, connect_envelope=sub.format == "avro"
                                  and sub.envelope == "debezium")
        if sub.key_format != "raw":
            from consumer.decoding import make_decoder
            decode_key = make_decoder(sub.key_format, registry, field="key")
    except ValueError as e:
        return Problem(key=f"{key}.format", message=str(e),
                       fix="add a schema_registry section, or use format: json")
    return Route(sub, transform, pattern, decode=decode, decode_key=decode_key)


def _inner(sub: Subscription, key: str, path: str) -> Transform | Problem:
    """The subscription's built-in, imported transform or compiled mapping."""
    if sub.transform is not None:
        try:
            return resolve(sub.transform)
        except LookupError as e:
            return Problem(key=f"{key}.transform", message=str(e),
                           fix="use a built-in name or package.module:function importable from "
                               "this environment")
    assert sub.mapping is not None  # the subscription's validator: one of the two
    from transforms.mapping import Mapping, MappingError  # jsonata: only for mappings

    try:
        if sub.mapping_file is not None:
            mapping = Mapping.load(sub.mapping_file, relative_to=path)
        else:
            mapping = Mapping(sub.mapping, f"{key}.mapping")
        return cast(Transform, mapping)  # (event, meta) -> list[Activity] | Filtered
    except MappingError as e:
        return Problem(key=f"{key}.mapping", message=str(e),
                       fix="fix the expression at that line and column (try it with "
                           "activity-consumer try -c FILE --topic TOPIC EVENT)")


def _decode(route: Route, msg: Message) -> Any:
    """The message value decoded by the topic's format: the value, a Failure or Unavailable."""
    if route.decode is None:
        return decode(msg.value)  # type: ignore[arg-type]  # triage filtered tombstones
    return _decoded(route.decode(msg.value, msg.topic), "value")


def _decoded(result: DecodeResult, field: str) -> Any:
    if isinstance(result, Decoded):
        return result.value
    if isinstance(result, RegistryUnavailable):
        return Unavailable("schema_registry", result.error)
    return result.failure()
