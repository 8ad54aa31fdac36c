"""One decoder per subscription and field (value or key), built once at start.

``decoder(data, topic)`` returns a :class:`~consumer.decoding.result.DecodeResult`; it never
raises for a bad message or an unreachable registry. Registry formats use the Confluent wire
format (magic byte 0, the 4-byte big-endian schema id, then the payload; Protobuf adds message
indexes) and confluent-kafka's deserializers (Avro, JSON Schema); Protobuf uses message types
built at run time (consumer.decoding.protobuf_types).

Costs: a schema is fetched once per id (the client caches it); every value is bounded by
``max_bytes`` before anything parses it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Literal

import orjson
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.schema_registry.serde import SchemaId
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from consumer.decoding.connect_schema import connect_schema
from consumer.decoding.plain import plain
from consumer.decoding.protobuf_types import ProtobufTypes, SchemaUnusable
from consumer.decoding.registry import SchemaRegistry, classify
from consumer.decoding.result import Decoded, DecodeResult, RegistryUnavailable, Undecodable

__all__ = ["DEFAULT_MAX_BYTES", "Decoder", "make_decoder"]

Decoder = Callable[[bytes | None, str], DecodeResult]
Field = Literal["value", "key"]
DEFAULT_MAX_BYTES = 4 * 1024 * 1024  # above Kafka's default 1 MB message.max.bytes, well below RAM

_MAGIC = 0  # Confluent wire format v0: magic, 4-byte id
_MAGIC_GUID = 1  # v1: magic, 16-byte schema GUID (newer Confluent clients)
_NONE = Decoded(None)


def make_decoder(fmt: str, registry: SchemaRegistry | None = None, *, field: Field = "value",
                 max_bytes: int = DEFAULT_MAX_BYTES, connect_envelope: bool = False) -> Decoder:
    """The decoder of ``fmt``: ``json``, ``raw`` (keys: UTF-8 text), ``avro``, ``json_schema`` or
    ``protobuf``. Registry formats need ``registry``: ValueError when it is missing.

    ``connect_envelope`` (avro; set it for ``envelope: debezium``): the value comes wrapped as
    Connect's JSON converter writes it, ``{"schema": …, "payload": …}``, the schema read from the
    writer's (consumer.decoding.connect_schema), so the envelope decodes Debezium's logical types
    (MicroTimestamp, ZonedTimestamp, VariableScaleDecimal…) from Avro as from JSON."""
    if fmt == "json":
        return _JsonDecoder(field, max_bytes)
    if fmt == "raw":
        return _raw
    if fmt not in ("avro", "json_schema", "protobuf"):
        raise ValueError(f"unknown format {fmt!r}: json, avro, protobuf or json_schema")
    if registry is None:
        raise ValueError(f"format {fmt} needs the schema_registry section (its url)")
    if fmt == "protobuf":
        return _ProtobufDecoder(registry, field, max_bytes)
    return _RegistryDecoder(fmt, registry, field, max_bytes,
                            connect_envelope=connect_envelope and fmt == "avro")


def _raw(data: bytes | None, topic: str) -> DecodeResult:
    return _NONE if data is None else Decoded(data.decode("utf-8", errors="replace"))


class _JsonDecoder:
    def __init__(self, field: Field, max_bytes: int) -> None:
        self._field, self._max = field, max_bytes

    def __call__(self, data: bytes | None, topic: str) -> DecodeResult:
        if data is None:
            return _NONE
        if len(data) > self._max:
            return _too_large(f"json {self._field}", len(data), self._max)
        try:
            return Decoded(orjson.loads(data))
        except orjson.JSONDecodeError as e:
            hint = (" (it starts with the Schema Registry's magic byte: set this topic's format "
                    "to avro, protobuf or json_schema)" if data[:1] == b"\x00" else "")
            return Undecodable("not_json", f"{self._field} is not JSON: {e}{hint}")


class _Framed:
    """What the registry formats share: the size bound, the frame, and fetching the schema."""

    def __init__(self, fmt: str, registry: SchemaRegistry, field: Field, max_bytes: int) -> None:
        self._fmt, self._registry, self._field, self._max = fmt, registry, field, max_bytes
        self._where = f"{fmt} {field}"

    def _check_frame(self, data: bytes) -> Undecodable | None:
        if len(data) > self._max:
            return _too_large(self._where, len(data), self._max)
        if len(data) < 5 or data[0] not in (_MAGIC, _MAGIC_GUID):
            start = data[:1].hex() or "nothing"
            looks = " (it looks like JSON: set this topic's format to json)" \
                if data[:1] in (b"{", b"[") else ""
            return Undecodable("not_wire_format",
                               f"{self._where} is not in the Schema Registry wire format: "
                               f"{len(data)} bytes starting with 0x{start}, expected magic byte "
                               f"0x00 and a 4-byte schema id{looks}")
        return None

    def _fetch_schema(self, data: bytes) -> int | Undecodable | RegistryUnavailable | None:
        """The schema id of a v0 frame, its schema now in the client's cache; None for a v1
        (GUID) frame, which the deserializer resolves itself."""
        if data[0] != _MAGIC:
            return None
        schema_id = int.from_bytes(data[1:5], "big")
        try:
            self._registry.schema(schema_id)
        except Exception as e:
            return classify(e, self._where) or Undecodable(
                "schema_unusable", f"{self._where}: schema id {schema_id}: "
                                   f"{type(e).__name__}: {e}")
        return schema_id


class _RegistryDecoder(_Framed):
    """Avro and JSON Schema, with confluent-kafka's deserializers. They are called without a
    SerializationContext: the schema id comes from the frame, no subject is looked up, and no
    data-contract rules run (a consumer of someone else's topic has none of its own)."""

    def __init__(self, fmt: str, registry: SchemaRegistry, field: Field, max_bytes: int, *,
                 connect_envelope: bool = False) -> None:
        super().__init__(fmt, registry, field, max_bytes)
        self._connect: dict[int, dict[str, Any]] | None = {} if connect_envelope else None
        self._deserialize: Callable[..., Any]
        conf = {"subject.name.strategy": _no_subject}
        if fmt == "avro":
            self._deserialize = AvroDeserializer(registry.client, conf=conf)
        else:
            self._deserialize = JSONDeserializer(None, schema_registry_client=registry.client,
                                                 conf=conf)

    def __call__(self, data: bytes | None, topic: str) -> DecodeResult:
        if data is None:
            return _NONE
        bad = self._check_frame(data)
        if bad is not None:
            return bad
        schema_id = self._fetch_schema(data)
        if isinstance(schema_id, Undecodable | RegistryUnavailable):
            return schema_id
        try:
            value = self._deserialize(data, None)
        except Exception as e:  # a corrupt payload, or a registry failure behind a reference
            return classify(e, self._where) or Undecodable(
                "corrupt", f"{self._where} does not decode with schema id {schema_id}: "
                           f"{type(e).__name__}: {_short(e)}")
        if self._connect is not None and schema_id is not None:
            return Decoded({"schema": self._connect_schema(schema_id), "payload": plain(value)},
                           schema_id)
        return Decoded(plain(value), schema_id)

    def _connect_schema(self, schema_id: int) -> dict[str, Any]:
        assert self._connect is not None
        found = self._connect.get(schema_id)
        if found is None:  # the writer's schema is in the client's cache by now
            text = self._registry.schema(schema_id).schema_str or "null"
            found = self._connect[schema_id] = connect_schema(orjson.loads(text))
        return found


class _ProtobufDecoder(_Framed):
    def __init__(self, registry: SchemaRegistry, field: Field, max_bytes: int) -> None:
        super().__init__("protobuf", registry, field, max_bytes)
        self._types = ProtobufTypes(registry)

    def __call__(self, data: bytes | None, topic: str) -> DecodeResult:
        if data is None:
            return _NONE
        bad = self._check_frame(data)
        if bad is not None:
            return bad
        if data[0] != _MAGIC:
            return Undecodable("schema_unusable", f"{self._where}: schema GUIDs (magic byte 1) "
                                                  "are not supported for protobuf; use ids")
        frame = SchemaId("PROTOBUF")
        try:
            payload = frame.from_bytes(io.BytesIO(data))
            assert frame.id is not None
            cls = self._types.message_class(frame.id, frame.message_indexes)
        except SchemaUnusable as e:
            return Undecodable("schema_unusable", f"{self._where}: schema id {frame.id}: {e}")
        except Exception as e:
            return classify(e, self._where) or Undecodable(
                "corrupt", f"{self._where}: its frame does not read (schema id {frame.id}, "
                           f"message indexes): {type(e).__name__}: {_short(e)}")
        try:
            message = cls.FromString(payload.read())
        except DecodeError as e:
            return Undecodable("corrupt", f"{self._where} does not decode as "
                                          f"{cls.DESCRIPTOR.full_name} (schema id {frame.id}): {e}")
        # int64 come out as strings (proto3's JSON mapping): every digit of an id survives.
        value = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                          always_print_fields_with_no_presence=True)
        return Decoded(value, frame.id)


def _no_subject(ctx: Any, record_name: Any) -> None:
    """No subject: the schema id in the frame is all a reader needs (and no lookups by topic)."""
    return None


def _too_large(where: str, size: int, limit: int) -> Undecodable:
    return Undecodable("too_large", f"{where} is {size} bytes, over the {limit}-byte limit")


def _short(e: BaseException, limit: int = 300) -> str:
    text = str(e)
    return text if len(text) <= limit else text[: limit - 1] + "…"
