"""Log lines: JSON for machines, key=value for terminals, and never a secret in either.

Every secret the process knows (the Freshdesk API key, SASL passwords) is registered here at
start-up and replaced by ``***`` in every line, whoever logged it: librdkafka and httpx errors
included.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable

import orjson

__all__ = ["Repeats", "configure", "register_secret"]

_SECRETS: set[str] = set()
_RESERVED = set(vars(logging.makeLogRecord({})))


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:  # shorter strings would redact ordinary words
        _SECRETS.add(value)


def _redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _redact(orjson.dumps(line, default=str).decode())


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{stamp} {record.levelname.lower():7} {record.getMessage()}"
        if extra:
            line += f" {extra}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return _redact(line)


class Repeats(logging.Filter):
    """The same line again within ``interval_s`` is counted, not written: a broker that is down
    made librdkafka log the same error 20 times a second. The first is written at once; the
    next one after the interval carries ``repeated=N`` (how many were held back meanwhile)."""

    def __init__(self, interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 max_kept: int = 256):
        super().__init__()
        self.interval_s, self._clock, self._max_kept = interval_s, clock, max_kept
        self._seen: dict[tuple[str, int, str], list[float | int]] = {}  # → [written at, held]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, _shape(record.getMessage()))
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None or now - seen[0] >= self.interval_s:
            if seen is not None and seen[1]:
                record.repeated = seen[1]
            if len(self._seen) >= self._max_kept and seen is None:
                self._seen.clear()  # bounded: a flood of distinct lines is not held in memory
            self._seen[key] = [now, 0]
            return True
        seen[1] += 1
        return False


_DIGITS = re.compile(r"\d+")


def _shape(message: str) -> str:
    """A message without its numbers (timestamps, "after 12ms", ports): the same error repeated."""
    return _DIGITS.sub("#", message)[:500]


def configure(fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(Repeats())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
