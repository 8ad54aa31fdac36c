"""Seed the directory at start from a JSON Lines file of customers (``contacts.bootstrap_file``).

One JSON value a line (blank lines skipped), either a customer::

    {"ref": "stripe:cus_NffrFeUfNV2Hib", "email": "rachel@example.com", "phone": "+15555550100"}
    {"ref": "stripe:ch_3MmlLrLkdIwHu7ix", "alias_of": "stripe:cus_NffrFeUfNV2Hib"}

or a Link as a transform returns it (``{"ref": …, "contact": {"email": …}, "alias_of": …}``),
or a JSON array of either. Keys: ``ref`` (required, ``"<vendor>:<id>"``), ``email``, ``phone``,
``mobile``, ``unique_external_id``, ``alias_of``, all strings; each entry must teach an
identifier or an alias. Lines are learned as they are read (in batches, one flush each); every
bad line is reported with the file and line number, and the start fails: a file someone meant
to load and that loads half is worse than one that stops the start with a list of its faults.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from consumer.contacts.directory._api import ContactDirectory
from consumer.contacts.directory._record import FIELDS
from transforms.activity import Contact, Link

__all__ = ["BootstrapError", "BootstrapResult", "load_bootstrap_file"]

log = logging.getLogger("consumer.directory")

_KEYS = frozenset({"ref", "alias_of", "contact", *FIELDS})
_MAX_REPORTED = 20
_BATCH = 1000  # Links learned and flushed at once (the Redis backend splits its flushes)


class BootstrapError(Exception):
    """The bootstrap file cannot be used; ``str()`` lists its problems (file:line: what) and the fix."""

    def __init__(self, path: Path, problems: list[str], more: int = 0):
        self.path, self.problems = path, problems
        tail = f"\n  … and {more} more bad lines" if more else ""
        super().__init__(
            f"contacts.bootstrap_file {path}: {len(problems) + more} bad line(s)\n  "
            + "\n  ".join(problems) + tail
            + '\n  fix: one JSON object a line, e.g. {"ref": "stripe:cus_…", "email": "…"} '
              '(see consumer/directory/bootstrap.py), or remove contacts.bootstrap_file')


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    lines: int
    links: int
    seconds: float


def _text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {type(value).__name__} {value!r:.40}")
    return value.strip() or None


def link_of(entry: Any) -> Link:
    """One bootstrap entry as a Link; ValueError says what is wrong with it."""
    if not isinstance(entry, dict):
        raise ValueError(f"expected a JSON object, got {type(entry).__name__}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    ref = _text(entry, "ref")
    if not ref or ":" not in ref:
        raise ValueError(f"ref must be \"<vendor>:<id>\" such as \"stripe:cus_…\", got {ref!r}")
    fields = entry
    if "contact" in entry:
        fields = entry["contact"]
        if not isinstance(fields, dict) or set(fields) - set(FIELDS) or set(entry) & set(FIELDS):
            raise ValueError(f"contact must be an object with only {', '.join(FIELDS)}, and "
                             "the identifiers go either inside it or beside ref, not both")
    contact = Contact(_text(fields, "email"), _text(fields, "phone"), _text(fields, "mobile"),
                      _text(fields, "unique_external_id"))
    alias = _text(entry, "alias_of")
    if contact.identifier() is None and alias is None:
        raise ValueError(f"{ref} teaches nothing: give an email, phone, mobile, "
                         "unique_external_id or alias_of")
    return Link(ref, contact if contact.identifier() else None, alias)


def _entries(path: Path, problems: list[str], counts: list[int]) -> Iterator[Link]:
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            counts[0] = number
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
                for entry in value if isinstance(value, list) else [value]:
                    yield link_of(entry)
            except orjson.JSONDecodeError as e:
                problems.append(f"{path}:{number}: not JSON: {e}")
            except ValueError as e:
                problems.append(f"{path}:{number}: {e}")


def load_bootstrap_file(directory: ContactDirectory, path: str | Path, *,
                        progress_every: int = 100_000) -> BootstrapResult:
    """Learn every entry of ``path`` into ``directory``; BootstrapError if any line is bad (the
    good lines are learned anyway), OSError if the file cannot be read, DirectoryUnavailable
    if Redis does not answer. Logs a progress line every ``progress_every`` links and at the end."""
    path = Path(path)
    started = time.monotonic()
    problems: list[str] = []
    counts = [0]
    links = 0
    batch: list[Link] = []
    for link in _entries(path, problems, counts):
        batch.append(link)
        links += 1
        if len(batch) >= _BATCH:
            directory.learn(batch)
            directory.flush()
            batch = []
        if links % progress_every == 0:
            log.info("contact directory bootstrap in progress", extra={
                "file": str(path), "line": counts[0], "links": links})
    directory.learn(batch)
    directory.flush()
    result = BootstrapResult(counts[0], links, time.monotonic() - started)
    if problems:
        raise BootstrapError(path, problems[:_MAX_REPORTED], len(problems) - _MAX_REPORTED
                             if len(problems) > _MAX_REPORTED else 0)
    log.info("contact directory bootstrapped", extra={
        "file": str(path), "lines": result.lines, "links": links,
        "seconds": round(result.seconds, 2)})
    return result
