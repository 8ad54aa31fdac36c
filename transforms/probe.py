"""Probes: filter an event from its raw bytes, before the consumer decodes it.

Most of the cost of a filtered event is decoding it (orjson builds every dict and string of a
2-12 KB payload) only for the transform to read one field and say "not shown". A transform may
carry a *probe*, ``probe(value: bytes) -> Filtered | None``, as its ``probe`` attribute
(:func:`with_probe`). The consumer (consumer.routing) and ``activity-consumer try`` call it on
the message value first:

- it returns a :class:`~transforms.Filtered` only when it is certain the transform would return
  that very ``Filtered`` (same reason, same detail) for the decoded value; the event is then
  settled as filtered without being decoded;
- otherwise ``None``: the value is decoded and the transform runs as usual. Unsure is always
  ``None``; a probe never filters an event the transform would deliver, learn from or reject.

What a probe does not check is the rest of the bytes: a value of a filtered type that is not
valid JSON *after* the type field is filtered rather than dead-lettered as ``decode`` (a value
cut short, the usual corruption, is still caught: see :func:`type_probe`).

:func:`type_probe` makes the probe of the generic envelope (a top-level ``"type"`` string, see
docs/event-schema.md): ``orders`` and ``payments`` use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeAlias, TypeVar

from transforms.event import Filtered

__all__ = ["Probe", "probe_of", "type_probe", "with_probe"]

Probe: TypeAlias = Callable[[bytes], "Filtered | None"]
T = TypeVar("T")

_CACHED = 256  # Filtered values kept per probe, one per distinct filtered type (a small set)


def with_probe(transform: T, probe: Probe) -> T:
    """``transform`` with ``probe`` attached (its ``probe`` attribute); returns it."""
    transform.probe = probe  # type: ignore[attr-defined]
    return transform


def probe_of(transform: object) -> Probe | None:
    """The transform's probe, or None."""
    probe = getattr(transform, "probe", None)
    return probe if callable(probe) else None


def type_probe(shown: Iterable[str], not_shown: Callable[[str], Filtered], *,
               field: str = "type", unsure_before: Iterable[bytes] = ()) -> Probe:
    """The probe of a transform that filters every event whose top-level ``field`` string is not
    in ``shown``, with ``not_shown(type)`` (the very function the transform returns it with).

    It reads the value's first keys the way a JSON parser would, and is sure only when:

    - the value is a JSON object whose top-level keys before ``field`` (at most 16) have
      scalar values (strings without escapes, numbers, true, false, null): a nested object or
      array first, or any escape, and it does not know;
    - ``field``'s value is a non-empty string without escapes, valid UTF-8, not in ``shown``;
    - no ``"field"`` and no backslash follow anywhere (a later duplicate key, even one spelled
      with ``\\u`` escapes, would win in the decoder; nested keys of that name make it unsure too);
    - the value ends with ``}`` (trailing whitespace allowed): a value cut short is decoded, and
      dead-lettered as ``decode``;
    - none of the ``unsure_before`` byte strings occurs before ``field``: the keys by which the
      transform recognises another vendor's payload there (``transforms._sniff.MARKER_KEYS``),
      which it rejects as a misrouted topic rather than filtering. Only the part already read is
      searched: it costs nothing on the bytes after the type.
    """
    shown_bytes = frozenset(s.encode() for s in shown)
    key = re.escape(f'"{field}"'.encode())
    ws = rb"[ \t\n\r]*"
    string = rb'"[^"\\\x00-\x1f]*"'  # no escapes, no control characters (invalid JSON)
    scalar = rb'(?:' + string + rb'|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)'
    pattern = re.compile(
        ws + rb"\{(?:" + ws + string + ws + b":" + ws + scalar + ws + b",){0,16}?"
        + ws + key + ws + b":" + ws + rb'"([^"\\\x00-\x1f]*)"')
    match = pattern.match
    needle = f'"{field}"'.encode()
    markers = tuple(unsure_before)
    marked = re.compile(b"|".join(re.escape(m) for m in markers)).search if markers else None
    cache: dict[bytes, Filtered] = {}

    def probe(value: bytes) -> Filtered | None:
        m = match(value)
        if m is None:
            return None
        kind = m.group(1)
        if not kind or kind in shown_bytes:
            return None
        end = m.end()
        if value.find(b"\\", end) >= 0 or value.find(needle, end) >= 0:
            return None
        if not value.endswith(b"}") and not value.rstrip(b" \t\n\r").endswith(b"}"):
            return None
        if marked is not None and marked(value, 0, m.start(1)) is not None:
            return None
        filtered = cache.get(kind)
        if filtered is None:
            try:
                text = kind.decode("utf-8")
            except UnicodeDecodeError:
                return None
            filtered = not_shown(text)
            if len(cache) < _CACHED:
                cache[kind] = filtered
        return filtered

    return probe
