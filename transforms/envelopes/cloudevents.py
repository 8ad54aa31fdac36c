"""CloudEvents over Kafka (the CloudEvents Kafka protocol binding, 1.0), both content modes.

- **binary**: the attributes are ``ce_``-prefixed headers (``ce_id``, ``ce_source``,
  ``ce_specversion``, ``ce_type``, ``ce_time``, extensions…), ``content-type`` is
  ``datacontenttype``, and the message value is ``data`` (decoded by the topic's format, so the
  data may be Avro or Protobuf through the registry).
- **structured**: ``content-type: application/cloudevents+json``; the value is the event as JSON,
  ``data`` inside it (``data_base64`` is decoded, and parsed when its content type is JSON).
  A JSON value carrying ``specversion``, ``id``, ``source`` and ``type`` without that header is
  read as structured too (producers forget the header).

The event is ``data``; bound: ``ce``, every attribute (``id``, ``source``, ``type``, ``subject``,
``time``, ``datacontenttype``, ``dataschema``, extensions). The natural idempotency key is
``ce:<source>:<id>``: the spec makes ``source`` + ``id`` unique per event.

Why not the ``cloudevents`` SDK at run time: its Kafka binding parses the value itself by content
type (JSON only), while here the value is already decoded by the topic's format (JSON or a
registry format) once. The tests check this reader against messages the SDK's binding made.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from transforms.envelopes import Unwrapped
from transforms.envelopes.debezium import TOMBSTONE
from transforms.event import EventMeta, Filtered, TransformError

__all__ = ["STRUCTURED_CONTENT_TYPE", "unwrap_cloudevent"]

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
_REQUIRED = ("id", "source", "specversion", "type")
_MAX_KEY = 250


def unwrap_cloudevent(value: Any, meta: EventMeta) -> Unwrapped | Filtered:
    """The event's ``data`` and its attributes bound as ``ce`` (see the module doc)."""
    content_type = meta.header("content-type") or ""
    headers: dict[str, Any] = {name[3:]: text for name, text in _ce_headers(meta)}
    structured = _is_structured(value, content_type, headers)
    if structured:
        attributes, data = _structured(value)
    elif value is None and not headers:
        return TOMBSTONE
    else:
        attributes, data = headers, value
        if content_type:
            attributes.setdefault("datacontenttype", content_type)
    _require(attributes, "structured" if structured else "binary (ce_* headers)")
    for name in ("subject", "time", "datacontenttype", "dataschema"):
        attributes.setdefault(name, None)
    return Unwrapped(data, {"ce": attributes}, key=_event_key(attributes))


def _is_structured(value: Any, content_type: str, headers: dict[str, Any]) -> bool:
    """Structured mode by its content type, or a JSON value that is plainly a CloudEvent sent
    without that header (and without ce_* headers)."""
    return content_type.lower().startswith(STRUCTURED_CONTENT_TYPE) or (
        not headers and isinstance(value, dict) and all(a in value for a in _REQUIRED))


def _structured(value: Any) -> tuple[dict[str, Any], Any]:
    """A structured-mode event's attributes (every member but the data) and its data."""
    if not isinstance(value, dict):
        raise TransformError("a structured-mode CloudEvent must be a JSON object (got "
                             f"{type(value).__name__}); check the topic's format")
    attributes = {k: v for k, v in value.items() if k not in ("data", "data_base64")}
    return attributes, _structured_data(value)


def _require(attributes: dict[str, Any], mode: str) -> None:
    missing = [a for a in _REQUIRED if not attributes.get(a)]
    if missing:
        raise TransformError(f"not a CloudEvent ({mode}): no {', '.join(missing)}")


def _event_key(attributes: dict[str, Any]) -> str:
    """``ce:<source>:<id>``, hashed when longer than an idempotency key may be."""
    key = f"ce:{attributes['source']}:{attributes['id']}"
    if len(key) > _MAX_KEY:
        import hashlib
        key = "ce:sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _ce_headers(meta: EventMeta) -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for name, value in meta.headers:
        lowered = name.lower()
        if lowered.startswith("ce_") and lowered not in found:
            found[lowered] = "" if value is None else value.decode("utf-8", "replace")
    return list(found.items())


def _structured_data(event: dict[str, Any]) -> Any:
    if "data_base64" not in event:
        return event.get("data")
    try:
        raw = base64.b64decode(event["data_base64"] or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise TransformError("CloudEvent data_base64 is not base64") from None
    content_type = str(event.get("datacontenttype") or "application/json").lower()
    if "json" in content_type:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise TransformError(f"CloudEvent data_base64 is not the JSON its "
                                 f"datacontenttype says: {e}") from None
    return raw.decode("utf-8", "replace")
