"""Validation against the Freshdesk contract (shared/freshdesk-contract.md) and JSON encoding.

``encode`` is the gate every activity passes before delivery: it checks the contract's required
fields and our own limits in one hand-written pass, lists every problem it finds, and returns the
request body. A ContractError is permanent (the consumer dead-letters the message with its text).
Email syntax is deliberately not checked: Freshdesk is the authority on what it accepts.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from transforms.activity import Activity, ActivityObject, Actor, Contact, Source

__all__ = ["MAX_BODY_BYTES", "MAX_CONTEXT_DEPTH", "ContractError", "activity_key", "encode"]

MAX_BODY_BYTES = 64 * 1024
MAX_CONTEXT_DEPTH = 5  # the context object itself is level 1
MAX_NAME_CHARS = 255
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what a JSON encoder can write exactly


class ContractError(ValueError):
    """The activity breaks the contract; ``problems`` lists each rule broken, e.g.
    ``"activity.name: must be 1-255 characters (got 0)"``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def encode(activity: Activity) -> bytes:
    """The JSON request body for ``activity``; raises ContractError listing every problem."""
    problems = _problems(activity)
    if problems:
        raise ContractError(problems)
    try:
        body = orjson.dumps(activity.payload(), default=_plain)
    except (TypeError, ValueError) as exc:  # a type the walk let through but orjson refuses
        raise ContractError([f"activity.context: cannot be encoded as JSON ({exc})"]) from None
    if len(body) > MAX_BODY_BYTES:
        raise ContractError([
            f"body: {len(body)} bytes is over the 64 KiB limit ({MAX_BODY_BYTES} bytes); "
            "shorten the description or context"
        ])
    return body


def activity_key(activity: Activity, body: bytes) -> str:
    """The idempotency key: ``activity.key`` when the transform gave one, else ``"sha256:"`` and
    the hex digest of the body re-encoded with sorted keys, so equal payloads get equal keys
    whatever order their dicts were built in, in any process."""
    if activity.key:
        return activity.key
    canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _plain(value: Any) -> Any:
    """orjson's fallback for the containers it does not know (MappingProxyType and friends)."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _problems(act: Activity) -> list[str]:
    problems: list[str] = []
    name = act.name
    if not isinstance(name, str):
        problems.append(f"activity.name: must be a string (got {_kind(name)})")
    elif not 1 <= len(name) <= MAX_NAME_CHARS:
        problems.append(f"activity.name: must be 1-{MAX_NAME_CHARS} characters (got {len(name)})")
    elif name.isspace():
        problems.append("activity.name: must not be blank")

    ts = act.timestamp
    if not isinstance(ts, datetime):
        problems.append(f"activity.timestamp: must be a datetime (got {_kind(ts)})")
    elif ts.utcoffset() is None:
        problems.append(
            f"activity.timestamp: must be timezone-aware (got naive {ts.isoformat()}); "
            "attach tzinfo=UTC"
        )

    _optional_text(act.description, "activity.description", problems)
    _optional_text(act.link, "activity.link", problems)

    actor = act.actor
    if isinstance(actor, Actor):
        _text(actor.id, "activity.actor.id", problems)
        _text(actor.name, "activity.actor.name", problems)
        _text(actor.type, "activity.actor.type", problems)
    else:
        problems.append(f"activity.actor: must be an Actor (got {_kind(actor)})")

    source = act.source
    if isinstance(source, Source):
        _text(source.name, "activity.source.name", problems)
        _text(source.id, "activity.source.id", problems)
    else:
        problems.append(f"activity.source: must be a Source (got {_kind(source)})")

    obj = act.object
    if isinstance(obj, ActivityObject):
        _text(obj.type, "activity.object.type", problems)
        _text(obj.id, "activity.object.id", problems)
        _optional_text(obj.link, "activity.object.link", problems)
    elif obj is not None:
        problems.append(f"activity.object: must be an ActivityObject or None (got {_kind(obj)})")

    context = act.context
    if context is not None:
        if isinstance(context, Mapping):
            if type(context) is not dict or not _plain_json_object(context, 1):
                _check_json(context, "activity.context", 1, problems)
        else:
            problems.append(f"activity.context: must be a JSON object (got {_kind(context)})")

    contact = act.contact
    if isinstance(contact, Contact):
        identifier = contact.identifier()
        if identifier is None:
            problems.append(
                "contact: needs one of email, phone, mobile or unique_external_id (got none)"
            )
        else:
            _text(identifier[1], f"contact.{identifier[0]}", problems)
    else:
        problems.append(f"contact: must be a Contact (got {_kind(contact)})")

    key = act.key
    if key is not None and not (isinstance(key, str) and key):
        problems.append(f"key: must be a non-empty string or None (got {key!r})")
    return problems


def _text(value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{where}: must be a string (got {_kind(value)})")
    elif not value or value.isspace():
        problems.append(f"{where}: must not be empty")


def _optional_text(value: Any, where: str, problems: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        problems.append(f"{where}: must be a string or None (got {_kind(value)})")
    elif not value or value.isspace():
        problems.append(f"{where}: must not be empty (leave it None instead)")


def _plain_json_object(value: dict[Any, Any], depth: int) -> bool:
    """Fast path for the common case (exact JSON types, nothing wrong): True means valid.
    False means "look closer": ``_check_json`` then finds and words the problems."""
    for key, item in value.items():
        if type(key) is not str or not _plain_json_value(item, depth):
            return False
    return True


def _plain_json_value(item: Any, depth: int) -> bool:
    """``depth`` is the level of the container holding ``item``."""
    kind = type(item)
    if kind is str or kind is bool or item is None:
        return True
    if kind is int:
        return bool(_INT_MIN <= item <= _INT_MAX)
    if kind is float:
        return math.isfinite(item)
    if kind is dict:
        return depth < MAX_CONTEXT_DEPTH and _plain_json_object(item, depth + 1)
    if kind is list:
        return depth < MAX_CONTEXT_DEPTH and all(_plain_json_value(i, depth + 1) for i in item)
    return False


def _check_json(value: Any, where: str, depth: int, problems: list[str]) -> None:
    """Walk a context value: JSON types only, str keys, finite numbers, 64-bit ints, depth ≤ 5."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            problems.append(f"{where}: integer {value} does not fit in 64 bits; send a string")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(f"{where}: {value} is not a JSON number")
        return
    is_object = isinstance(value, Mapping)
    if not is_object and not isinstance(value, list | tuple):
        problems.append(
            f"{where}: {_kind(value)} is not JSON "
            "(use str, int, float, bool, None, a list or an object)"
        )
        return
    if depth > MAX_CONTEXT_DEPTH:
        problems.append(
            f"{where}: nested deeper than {MAX_CONTEXT_DEPTH} levels (context is level 1)"
        )
        return
    if is_object:
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(f"{where}: key {key!r} must be a string")
                continue
            _check_json(item, f'{where}["{key}"]', depth + 1, problems)
    else:
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]", depth + 1, problems)


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__
