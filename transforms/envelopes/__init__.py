"""Envelopes: the wrapper a topic's events come in, unwrapped to the event a transform or
mapping reads, plus what the wrapper said (its *bindings*).

An envelope is ``envelope(value, meta) -> Unwrapped | Filtered``: pure, no I/O. ``value`` is the
decoded message value (consumer.decoding), ``meta`` the Kafka message. It raises TransformError
for a value that is not the envelope it should be (dead-lettered).

- ``debezium`` (:mod:`.debezium`): change events; the row, ``op``, ``before``, ``source``.
- ``outbox`` (:mod:`.outbox`): Debezium's outbox event router; the payload, the event id.
- ``cloudevents`` (:mod:`.cloudevents`): binary and structured mode; ``data`` and ``ce``.
- ``none``: the value as it is.

:func:`enveloped` puts an envelope in front of a transform or a mapping, so the result is an
ordinary transform ``(value, meta) -> ...`` for the pipeline (and ``try``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeAlias

from transforms.event import EventMeta, Filtered, Transform

__all__ = ["ENVELOPES", "Envelope", "Unwrapped", "envelope_for", "enveloped", "no_envelope"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """The event inside the envelope, and what the envelope said about it.

    ``bindings`` become the mapping's variables (``op``, ``before``, ``source``, ``ce``,
    ``outbox``); ``key`` is the envelope's natural idempotency key when it has one (CloudEvents:
    source + id; outbox: the event id), bound as ``$event_key``."""

    event: Any
    bindings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    key: str | None = None


Envelope: TypeAlias = Callable[[Any, EventMeta], "Unwrapped | Filtered"]


def no_envelope(value: Any, meta: EventMeta) -> Unwrapped | Filtered:
    return Unwrapped(value)


def envelope_for(name: str, *, snapshot: str = "skip") -> Envelope:
    """The envelope called ``name`` (``none``, ``debezium``, ``outbox``, ``cloudevents``).
    ``snapshot`` (debezium): ``skip`` filters snapshot reads, ``include`` keeps them."""
    from transforms.envelopes.cloudevents import unwrap_cloudevent
    from transforms.envelopes.debezium import debezium_envelope
    from transforms.envelopes.outbox import unwrap_outbox

    if name == "none":
        return no_envelope
    if name == "debezium":
        return debezium_envelope(include_snapshot=snapshot == "include")
    if name == "outbox":
        return unwrap_outbox
    if name == "cloudevents":
        return unwrap_cloudevent
    raise ValueError(f"unknown envelope {name!r}: one of {', '.join(ENVELOPES)}")


ENVELOPES = ("none", "debezium", "outbox", "cloudevents")


def enveloped(envelope: Envelope, inner: Transform) -> Transform:
    """A transform that unwraps with ``envelope`` and hands the event to ``inner``: a mapping
    (:class:`transforms.mapping.Mapping`) gets the bindings too; a Python transform gets the
    event alone. A filtered envelope (tombstone, snapshot read) is returned as is."""
    from transforms.mapping import Mapping as JsonataMapping

    def transform(value: Any, meta: EventMeta, extra: Mapping[str, Any] | None = None) -> Any:
        """``extra``: more variables for a mapping, e.g. ``{"key": decoded_key}`` when the
        subscription decodes its keys (key_format)."""
        unwrapped = envelope(value, meta)
        if isinstance(unwrapped, Filtered):
            return unwrapped
        if isinstance(inner, JsonataMapping):
            bindings = dict(unwrapped.bindings)
            bindings["event_key"] = unwrapped.key
            if extra:
                bindings.update(extra)
            return inner.evaluate(unwrapped.event, meta, bindings)
        return inner(unwrapped.event, meta)

    transform.__name__ = f"enveloped_{getattr(inner, '__name__', type(inner).__name__)}"
    return transform
