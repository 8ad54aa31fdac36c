"""Validation against the Freshdesk contract (shared/freshdesk-contract.md) and JSON encoding.

Two gates, one rule book:

- ``check(result)`` is the transform stage's: it sorts what a transform returned into activities
  and Links (or a Filtered), and validates each. An activity whose contact has no identifier but
  names vendor ``refs`` passes here: the pipeline resolves the refs through the contact directory
  (``activity.with_contact(...)``) before it encodes.
- ``encode(activity)`` is the last gate before delivery: the contract's required fields and our
  own limits in one hand-written pass, every problem listed at once, and the request body. A
  contact that is still only refs fails here ("contact not resolved").

A ContractError is permanent (the consumer dead-letters the message with its text). Text an agent
reads is cleaned, not rejected: C0/C1 control characters (but tab and newline) and the Unicode
bidirectional embedding/override/isolate characters (U+202A-U+202E, U+2066-U+2069, which can make
"gpj.exe" read as "exe.jpg") are removed from every string of the body but the contact's. A
contact identifier carrying them is rejected instead: silently changing it would change *who*.
Email syntax is deliberately not checked: Freshdesk is the authority on what it accepts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from transforms.activity import Activity, ActivityObject, Actor, Contact, Link, Source
from transforms.event import FILTERED_UNSPECIFIED, Filtered

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_CONTEXT_DEPTH",
    "MAX_REF_CHARS",
    "Checked",
    "ContractError",
    "activity_key",
    "check",
    "clean_text",
    "encode",
    "vendor_ref",
]

MAX_BODY_BYTES = 64 * 1024
MAX_CONTEXT_DEPTH = 5  # the context object itself is level 1
MAX_NAME_CHARS = 255
MAX_REF_CHARS = 300  # "<vendor>:<kind>:<id>" with a 255-character id
# What an agent must never be shown: C0 controls but tab/newline, DEL, C1 controls, and the bidi
# embedding/override/isolate characters (U+202A-E, U+2066-9).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same, as orjson writes them into a body: a cheap pre-check on the encoded bytes so clean
# bodies (nearly all) are never walked twice. A false alarm (a literal backslash followed by
# "u0001" in some text) only costs the exact walk.
_UNSAFE_IN_BODY = re.compile(
    rb"\\u00[01][0-9a-f]|\\[bfr]|\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what a JSON encoder can write exactly


class ContractError(ValueError):
    """The activity breaks the contract; ``problems`` lists each rule broken, e.g.
    ``"activity.name: must be 1-255 characters (got 0)"``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True, slots=True)
class Checked:
    """What a transform returned, sorted and validated: the activities to deliver (in order; some
    may still need their contact resolved, see ``Activity.needs_contact``) and the Links that
    teach the contact directory. Both may be empty only together with a non-None ``filtered``."""

    activities: tuple[Activity, ...]
    links: tuple[Link, ...]
    filtered: Filtered | None = None


def check(result: Any, transform: str = "transform") -> Checked:
    """Sorts and validates a transform's return value for the transform stage.

    ``None`` / ``[]`` / a ``Filtered`` give ``Checked((), (), filtered)``; an Activity, a Link or
    a list of both give them sorted (order kept). Raises ContractError naming every problem: a
    value that is neither, an activity breaking the contract (refs-only contacts are allowed
    here), a malformed Link."""

    if result is None:
        return Checked((), (), FILTERED_UNSPECIFIED)
    if isinstance(result, Filtered):
        return Checked((), (), result)
    items = [result] if isinstance(result, Activity | Link) else result
    if not isinstance(items, list | tuple):
        raise ContractError([f"{transform} returned {type(result).__name__}; expected an "
                             "Activity, a Link, a list of them, Filtered or None"])
    activities: list[Activity] = []
    links: list[Link] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        where = f"[{index}] " if len(items) > 1 else ""
        if isinstance(item, Activity):
            problems += [where + p for p in _problems(item, resolved=False)]
            activities.append(item)
        elif isinstance(item, Link):
            problems += [where + p for p in _link_problems(item)]
            links.append(item)
        else:
            problems.append(f"{where}{transform} returned a {type(item).__name__} in its list; "
                            "expected Activity or Link items")
    if problems:
        raise ContractError(problems)
    if not activities and not links:
        return Checked((), (), FILTERED_UNSPECIFIED)
    return Checked(tuple(activities), tuple(links))


def vendor_ref(*parts: str | None) -> str | None:
    """A contact-directory ref from its parts, ``vendor_ref("stripe", "cus_1")`` ->
    ``"stripe:cus_1"``, ``vendor_ref("shopify", "order", "450789469")`` ->
    ``"shopify:order:450789469"``; None when a part is missing or the result could not be a ref
    (too long, blank, control characters): a junk id names nobody."""
    if not all(parts):
        return None
    ref = ":".join(p for p in parts if p)
    return ref if _is_ref(ref) else None


def clean_text(value: str) -> str:
    """``value`` without the characters no agent should be shown (see the module docstring)."""
    return _UNSAFE.sub("", value)


def encode(activity: Activity) -> bytes:
    """The JSON request body for ``activity``; raises ContractError listing every problem.
    Control and bidi-override characters are removed from the text an agent reads."""
    problems = _problems(activity)
    if problems:
        raise ContractError(problems)
    body = _dumps(activity)
    if _maybe_unsafe(body):
        cleaned = _cleaned(activity)
        if cleaned is not activity:
            problems = _problems(cleaned)  # cleaning may leave a name or an id empty
            if problems:
                raise ContractError([p + " (after removing control characters)"
                                     for p in problems])
            body = _dumps(cleaned)
    if len(body) > MAX_BODY_BYTES:
        raise ContractError([
            f"body: {len(body)} bytes is over the 64 KiB limit ({MAX_BODY_BYTES} bytes); "
            "shorten the description or context"
        ])
    return body


def _maybe_unsafe(body: bytes) -> bool:
    """The pre-check on the encoded body. Every unsafe character is written starting with one of
    four bytes; looking for those first (memchr-fast) spares the regex, which tests every
    position, on nearly every body: 8.1 -> 2.6 us per 900-byte order activity (loop included)."""
    return ((b"\\" in body or b"\x7f" in body or b"\xc2" in body or b"\xe2" in body)
            and _UNSAFE_IN_BODY.search(body) is not None)


def _dumps(activity: Activity) -> bytes:
    try:
        return orjson.dumps(activity.payload(), default=_plain)
    except (TypeError, ValueError) as exc:  # a type the walk let through but orjson refuses
        raise ContractError([f"activity.context: cannot be encoded as JSON ({exc})"]) from None


def _cleaned(act: Activity) -> Activity:
    """``act`` with every string an agent reads cleaned; ``act`` itself when nothing changed."""
    actor, source, obj = act.actor, act.source, act.object
    cleaned = dataclasses.replace(
        act,
        name=_clean(act.name), description=_clean(act.description), link=_clean(act.link),
        actor=Actor(_clean(actor.id), _clean(actor.name), _clean(actor.type)),
        source=Source(_clean(source.name), _clean(source.id)),
        object=None if obj is None else ActivityObject(_clean(obj.type), _clean(obj.id),
                                                       _clean(obj.link)),
        context=None if act.context is None else _clean_json(act.context),
    )
    return act if cleaned == act else cleaned


def _clean(value: Any) -> Any:
    return _UNSAFE.sub("", value) if isinstance(value, str) else value


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSAFE.sub("", value)
    if isinstance(value, Mapping):
        return {_clean(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


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


def _problems(act: Activity, resolved: bool = True) -> list[str]:
    """Every rule ``act`` breaks. ``resolved=False`` (the transform stage) accepts a contact that
    is only vendor refs, which the pipeline resolves before encoding."""
    problems: list[str] = []
    _name_problems(act.name, problems)
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
    _parties_problems(act, problems)
    _context_problems(act.context, problems)
    contact = act.contact
    if isinstance(contact, Contact):
        _contact_problems(contact, "contact", problems, resolved)
    else:
        problems.append(f"contact: must be a Contact (got {_kind(contact)})")
    key = act.key
    if key is not None and not (isinstance(key, str) and key):
        problems.append(f"key: must be a non-empty string or None (got {key!r})")
    return problems


def _name_problems(name: Any, problems: list[str]) -> None:
    if not isinstance(name, str):
        problems.append(f"activity.name: must be a string (got {_kind(name)})")
    elif not 1 <= len(name) <= MAX_NAME_CHARS:
        problems.append(f"activity.name: must be 1-{MAX_NAME_CHARS} characters (got {len(name)})")
    elif name.isspace():
        problems.append("activity.name: must not be blank")


def _parties_problems(act: Activity, problems: list[str]) -> None:
    """The actor, the source and the object: their types and their text fields."""
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


def _context_problems(context: Any, problems: list[str]) -> None:
    if context is None:
        return
    if not isinstance(context, Mapping):
        problems.append(f"activity.context: must be a JSON object (got {_kind(context)})")
    elif type(context) is not dict or not _plain_json_object(context, 1):
        _check_json(context, "activity.context", 1, problems)


def _contact_problems(contact: Contact, where: str, problems: list[str], resolved: bool) -> None:
    refs = contact.refs
    if not isinstance(refs, tuple) or not all(_is_ref(r) for r in refs):
        problems.append(f"{where}.refs: must be a tuple of non-empty strings of at most "
                        f"{MAX_REF_CHARS} characters, like 'stripe:cus_123' (got {refs!r:.200})")
        if contact.identifier() is None:
            return
        refs = ()
    identifier = contact.identifier()
    if identifier is None:
        if not refs:
            problems.append(f"{where}: needs one of email, phone, mobile or unique_external_id "
                            "(got none), or vendor refs the contact directory can resolve")
        elif resolved:
            problems.append(
                f"{where}: not resolved: it names only vendor refs ({', '.join(refs[:3])}); the "
                "pipeline must resolve them through the contact directory "
                "(activity.with_contact(...)) before encoding")
        return
    field, value = identifier
    _text(value, f"{where}.{field}", problems)
    if isinstance(value, str) and _UNSAFE.search(value):
        problems.append(f"{where}.{field}: contains control or bidirectional-override "
                        f"characters ({value!r:.80}); fix the producer, an identifier is never "
                        "cleaned silently")


def _is_ref(ref: Any) -> bool:
    return (isinstance(ref, str) and 0 < len(ref) <= MAX_REF_CHARS and not ref.isspace()
            and not _UNSAFE.search(ref))


def _link_problems(link: Link) -> list[str]:
    problems: list[str] = []
    if not _is_ref(link.ref):
        problems.append(f"link.ref: must be a non-empty string of at most {MAX_REF_CHARS} "
                        f"characters like 'stripe:cus_123' (got {link.ref!r:.100})")
    if (link.contact is None) == (link.alias_of is None):
        problems.append(f"link {link.ref!r:.100}: needs exactly one of contact or alias_of")
    elif link.contact is not None:
        if not isinstance(link.contact, Contact) or link.contact.identifier() is None:
            problems.append(f"link {link.ref!r:.100}: contact must be a Contact with an email, "
                            "phone, mobile or unique_external_id")
        else:
            _contact_problems(link.contact, f"link {link.ref!r:.100}: contact", problems, True)
    elif not _is_ref(link.alias_of) or link.alias_of == link.ref:
        problems.append(f"link {link.ref!r:.100}: alias_of must be another ref "
                        f"(got {link.alias_of!r:.100})")
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
        if type(key) is not str:
            return False
        if type(item) is not str and not _plain_json_value(item, depth):  # str: most values
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
