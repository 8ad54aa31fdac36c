"""What decoding one value gives: the value, a message fault, or a world fault.

- :class:`Decoded`: the value as plain JSON-like Python (dicts, lists, str, int, float, bool,
  None; decimals as exact strings, times as ISO-8601 UTC strings, bytes as base64).
- :class:`Undecodable`: the message itself is bad (not the wire format, a schema id the registry
  does not know, a corrupt payload, too large): dead-letter it with :meth:`Undecodable.failure`;
  retrying cannot help.
- :class:`RegistryUnavailable`: the world is bad (the registry refuses connections, times out,
  answers 5xx, 429 or refuses our credentials): an outage. The caller pauses the partition and
  tries the same message again later; nothing is dead-lettered for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from consumer.outcomes import Failure

__all__ = ["DecodeResult", "Decoded", "RegistryUnavailable", "Undecodable"]

UndecodableKind = Literal["not_json", "not_wire_format", "unknown_schema", "corrupt", "too_large",
                          "schema_unusable"]


@dataclass(frozen=True, slots=True)
class Decoded:
    value: Any
    schema_id: int | None = None  # the registry's id, for registry formats


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A message fault. ``kind`` is a small fixed set (a metric label); ``error`` says what was
    wrong and what to do, e.g. ``"avro value: schema id 42 is unknown to the registry"``."""

    kind: UndecodableKind
    error: str

    def failure(self) -> Failure:
        """The dead letter: reason ``decode`` (fix the producer), this error as its text."""
        return Failure("decode", self.error)


@dataclass(frozen=True, slots=True)
class RegistryUnavailable:
    """A world fault: ``error`` says what the registry did (refused, timed out, 503, 401...)."""

    error: str


DecodeResult = Decoded | Undecodable | RegistryUnavailable
