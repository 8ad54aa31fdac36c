"""Time helpers: parse the times events carry, print the one timestamp format Freshdesk takes.

Freshdesk's API v2 writes and documents timestamps as ``YYYY-MM-DDTHH:MM:SSZ``; we send exactly
that: UTC, whole seconds (sub-second digits are dropped, not rounded, so an activity never
appears to happen after the event did).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from transforms.event import TransformError

__all__ = ["iso_utc", "parse_time"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch numbers at or above this are milliseconds: 1e11 seconds is the year 5138, while 1e11
# milliseconds is March 1973, so every real time in either unit lands on the right side.
_MS_THRESHOLD = 100_000_000_000
_MS_LIMIT = 100_000_000_000_000  # 1e14 ms is the year 5138 again: microseconds or junk


def iso_utc(value: datetime) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC. Raises ValueError for a naive datetime."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"iso_utc needs a timezone-aware datetime (got naive {value.isoformat()})")
    if offset:
        value = value - offset  # shifts the wall-clock fields to UTC; cheaper than astimezone()
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


def parse_time(value: str | int | float, field: str = "time") -> datetime:
    """An aware UTC datetime from an ISO-8601 string with ``Z`` or an offset, or an epoch number.

    Epoch numbers are seconds, or milliseconds when at least 1e11. Strings are always ISO-8601
    (an epoch sent as a string is refused rather than guessed at). A string without an offset
    is refused: guessing its zone would put the activity hours off on the timeline.
    Raises TransformError naming ``field``.
    """
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise TransformError(
                f"{field}: {value!r} is not an ISO-8601 time (expected e.g. 2024-05-01T10:00:00Z)"
            ) from None
        if parsed.tzinfo is None:
            raise TransformError(
                f"{field}: {value!r} has no time zone; add 'Z' or an offset like '+02:00'"
            )
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TransformError(
            f"{field}: expected an ISO-8601 string or epoch seconds/milliseconds "
            f"(got {type(value).__name__})"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise TransformError(f"{field}: {value!r} is not a time")
    magnitude = abs(value)
    if magnitude >= _MS_LIMIT:
        raise TransformError(f"{field}: {value!r} is too large for epoch seconds or milliseconds")
    try:
        if magnitude >= _MS_THRESHOLD:
            return _EPOCH + timedelta(milliseconds=value)
        return _EPOCH + timedelta(seconds=value)
    except OverflowError:
        raise TransformError(f"{field}: {value!r} is outside the years 1-9999") from None
