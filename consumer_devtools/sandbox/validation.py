"""Freshdesk's side of the contract: which bodies it rejects, and the errors it answers with.

Written from the shared Freshdesk contract (freshdesk-contract.md) on purpose, independently of our
`transforms` package: the sandbox plays the other party, so a shared bug cannot hide here.
Every problem is reported at once, as Freshdesk v2 does ("Validation failed" + errors).
Where Freshdesk is vague, the sandbox errs on the strict side: a body it accepts must be
one real Freshdesk accepts too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

FieldError = dict[str, str]
Check = Callable[[Any, str, list[FieldError]], None]

CONTACT_IDENTIFIERS = ("email", "phone", "mobile", "unique_external_id")
# Freshdesk string fields hold at most 255 characters ("Has 256 characters, it can have
# maximum of 255 characters"), so this is Freshdesk's limit, not our pre-send one.
MAX_STRING = 255

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|\+00:00)")
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_JSON_TYPE_NAMES = {str: "String", int: "Integer", float: "Float", bool: "Boolean",
                    list: "Array", dict: "key/value pair", type(None): "Null"}


class Rule(NamedTuple):
    check: Check
    required: bool = False


def error(path: str, message: str, code: str) -> FieldError:
    """One Freshdesk field error; `nested_field` keeps the full path for nested keys."""
    leaf = path.rsplit(".", 1)[-1]
    found = {"field": leaf, "message": message, "code": code}
    if "." in path:
        found["nested_field"] = path
    return found


def _mismatch(value: Any, path: str, expected: str) -> FieldError:
    actual = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    return error(path, f"Value set is of type {actual}. It should be a/an {expected}",
                 "datatype_mismatch")


def _string(value: Any, path: str, errors: list[FieldError]) -> bool:
    """Common string rules; True when the value is a usable non-blank string."""
    if not isinstance(value, str):
        errors.append(_mismatch(value, path, "String"))
        return False
    if not value.strip():
        errors.append(error(path, "It should not be blank", "invalid_value"))
        return False
    if len(value) > MAX_STRING:
        errors.append(error(
            path, f"Has {len(value)} characters, it can have maximum of {MAX_STRING} characters",
            "invalid_value"))
        return False
    return True


def _text(value: Any, path: str, errors: list[FieldError]) -> None:
    _string(value, path, errors)


def _long_text(value: Any, path: str, errors: list[FieldError]) -> None:
    # A description is a text field: no 255 cap, blank allowed.
    if not isinstance(value, str):
        errors.append(_mismatch(value, path, "String"))


def _url(value: Any, path: str, errors: list[FieldError]) -> None:
    if _string(value, path, errors):
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            errors.append(error(path, "It should be in the 'valid URL' format", "invalid_value"))


def _timestamp(value: Any, path: str, errors: list[FieldError]) -> None:
    if _string(value, path, errors) and parse_utc_timestamp(value) is None:
        errors.append(error(
            path, "It should be in the 'combined date and time ISO8601' format, in UTC "
            "(e.g. 2020-10-01T14:00:00Z)", "invalid_value"))


def _free_object(value: Any, path: str, errors: list[FieldError]) -> None:
    if not isinstance(value, dict):
        errors.append(_mismatch(value, path, "key/value pair"))


def _object(spec: dict[str, Rule]) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        if not isinstance(value, dict):
            errors.append(_mismatch(value, path, "key/value pair"))
            return
        for key in value:
            if key not in spec:
                errors.append(error(f"{path}.{key}" if path else key,
                                    "Unexpected/invalid field in request", "invalid_field"))
        for key, rule in spec.items():
            child = f"{path}.{key}" if path else key
            if key in value:
                rule.check(value[key], child, errors)
            elif rule.required:
                errors.append(error(child, "It should be present", "missing_field"))
    return check


def _contact(value: Any, path: str, errors: list[FieldError]) -> None:
    _object({key: Rule(_text) for key in CONTACT_IDENTIFIERS})(value, path, errors)
    if not isinstance(value, dict):
        return
    given = [key for key in CONTACT_IDENTIFIERS if key in value]
    if not given:
        errors.append(error(path, "Please fill at least 1 of email, phone, mobile, "
                                  "unique_external_id fields", "missing_field"))
    elif len(given) > 1:
        # (contract rule) exactly one identifier, so a contact is never matched ambiguously.
        errors.append(error(path, f"Only one of email, phone, mobile, unique_external_id "
                                  f"may be given, got {', '.join(given)}", "invalid_value"))
    email = value.get("email")
    if isinstance(email, str) and email.strip() and not _EMAIL.fullmatch(email):
        errors.append(error(f"{path}.email", "It should be in the 'valid email address' format",
                            "invalid_value"))


# The contract lists id/name/type for actor and name/id for source; the sandbox requires
# them all (stricter than Freshdesk's prose) so that passing here cannot fail there.
_ACTOR = {"id": Rule(_text, True), "name": Rule(_text, True), "type": Rule(_text, True)}
_SOURCE = {"name": Rule(_text, True), "id": Rule(_text, True)}
_OBJECT = {"type": Rule(_text, True), "id": Rule(_text, True), "link": Rule(_url)}
_ACTIVITY = {
    "name": Rule(_text, True),
    "timestamp": Rule(_timestamp),
    "description": Rule(_long_text),
    "link": Rule(_url),
    "actor": Rule(_object(_ACTOR), True),
    "source": Rule(_object(_SOURCE), True),
    "object": Rule(_object(_OBJECT)),
    # No nesting limit: the 5-level cap is our own pre-send rule, not Freshdesk's.
    "context": Rule(_free_object),
}
_BODY = _object({"activity": Rule(_object(_ACTIVITY), True), "contact": Rule(_contact, True)})


def validate_activity_request(body: Any) -> list[FieldError]:
    """Every reason Freshdesk would refuse this parsed body; empty when it is accepted."""
    errors: list[FieldError] = []
    _BODY(body, "", errors)
    return errors


def parse_utc_timestamp(text: str) -> datetime | None:
    """The instant an ISO-8601 UTC timestamp names, or None when it is not one."""
    if not _TIMESTAMP.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:  # shaped right but not a real date, e.g. 2020-02-30
        return None


def contact_identifier(contact: Any) -> tuple[str, str] | None:
    """(identifier type, value) of a contact object, or None when there is no usable one."""
    if not isinstance(contact, dict):
        return None
    for key in CONTACT_IDENTIFIERS:
        value = contact.get(key)
        if isinstance(value, str):
            return key, value
    return None
