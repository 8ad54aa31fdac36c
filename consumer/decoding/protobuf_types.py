"""Protobuf message types built at run time from the registry's schema: no protoc, no generated
code, nothing for the user to compile.

A schema is registered either as ``.proto`` text (Java's serializer, most tools) or, by
confluent-kafka's Python serializer, as a base64 ``FileDescriptorProto``. Apicurio Registry
answers the latter as it was stored and fails (500) when asked for ``format=serialized``, so
the schema is fetched without a format first; only ``.proto`` text is fetched again as
``format=serialized`` (Confluent's registry answers a base64 descriptor, Apicurio the
descriptor's bytes as the characters of the JSON string; both are read).
Each schema id gets a descriptor pool of its own: two versions of ``order.proto`` never clash.
"""

from __future__ import annotations

import base64
import binascii
import threading
from typing import Any

from google.protobuf import (
    any_pb2,  # noqa: F401  # the well-known types, loaded into the default pool for copying
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,  # noqa: F401
    empty_pb2,  # noqa: F401
    message_factory,
    struct_pb2,  # noqa: F401
    timestamp_pb2,  # noqa: F401
    wrappers_pb2,  # noqa: F401
)
from google.protobuf.descriptor import Descriptor, FileDescriptor
from google.protobuf.message import DecodeError, Message

from consumer.decoding.registry import SchemaRegistry

__all__ = ["ProtobufTypes", "SchemaUnusable"]

_MAX_REFERENCE_DEPTH = 16


class SchemaUnusable(Exception):
    """The registry's schema cannot be turned into a message type (say why)."""


class ProtobufTypes:
    """``message_class(schema_id, indexes)``: the generated-at-runtime class of the message the
    wire format names, built once per (id, indexes) and kept."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._files: dict[int, FileDescriptor] = {}
        self._classes: dict[tuple[int, tuple[int, ...]], type[Message]] = {}
        self._lock = threading.Lock()

    def message_class(self, schema_id: int, indexes: list[int] | None) -> type[Message]:
        path = tuple(indexes or [0])
        key = (schema_id, path)
        found = self._classes.get(key)
        if found is not None:
            return found
        with self._lock:
            file = self._files.get(schema_id)
            if file is None:
                file = self._load(schema_id)
                self._files[schema_id] = file
            cls: type[Message] = message_factory.GetMessageClass(_descriptor(file, path, schema_id))
            self._classes[key] = cls
            return cls

    def _load(self, schema_id: int) -> FileDescriptor:
        pool = descriptor_pool.DescriptorPool()
        schema = self._registry.schema(schema_id)
        proto = self._file_proto(schema.schema_str or "", lambda: self._serialized_by_id(schema_id))
        self._add_references(pool, schema.references or [], 0)
        _add_well_known(pool, proto)
        pool.Add(proto)
        return pool.FindFileByName(proto.name)

    def _add_references(self, pool: descriptor_pool.DescriptorPool, references: list[Any],
                        depth: int) -> None:
        if depth > _MAX_REFERENCE_DEPTH:
            raise SchemaUnusable(f"schema references nest deeper than {_MAX_REFERENCE_DEPTH}")
        for ref in references:
            try:
                pool.FindFileByName(ref.name)
                continue
            except KeyError:
                pass
            registered = self._registry.client.get_version(ref.subject, ref.version)
            schema = registered.schema
            proto = self._file_proto(
                schema.schema_str or "",
                lambda r=ref: self._serialized_by_version(r.subject, r.version))
            proto.name = ref.name  # how the importing file names it
            self._add_references(pool, schema.references or [], depth + 1)
            _add_well_known(pool, proto)
            pool.Add(proto)

    def _file_proto(self, text: str, serialized: Any) -> descriptor_pb2.FileDescriptorProto:
        proto = _from_base64(text)
        if proto is None:  # .proto text: ask the registry for its descriptor
            answer = serialized()
            proto = _from_base64(answer) or _from_raw(answer)
            if proto is None:
                raise SchemaUnusable("the registry's serialized form of the schema is not a "
                                     "base64 FileDescriptorProto")
        return proto

    def _serialized_by_id(self, schema_id: int) -> str:
        answer = self._registry.client._rest_client.get(f"schemas/ids/{schema_id}",
                                                        {"format": "serialized"})
        return str(answer.get("schema", "")) if isinstance(answer, dict) else ""

    def _serialized_by_version(self, subject: str, version: int) -> str:
        answer = self._registry.client._rest_client.get(
            f"subjects/{subject}/versions/{version}", {"format": "serialized"})
        return str(answer.get("schema", "")) if isinstance(answer, dict) else ""


def _from_base64(text: str) -> descriptor_pb2.FileDescriptorProto | None:
    stripped = text.strip()
    if not stripped or "{" in stripped or ";" in stripped:  # .proto text has both
        return None
    try:
        raw = base64.b64decode(stripped, validate=True)
        proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
    except (binascii.Error, ValueError, DecodeError):
        return None
    return proto if proto.message_type else None


def _from_raw(text: str) -> descriptor_pb2.FileDescriptorProto | None:
    """Apicurio answers ``format=serialized`` with the descriptor's bytes as the code points of
    a JSON string (not base64)."""
    try:
        proto = descriptor_pb2.FileDescriptorProto.FromString(text.encode("latin-1"))
    except (UnicodeEncodeError, DecodeError):
        return None
    return proto if proto.message_type else None


def _add_well_known(pool: descriptor_pool.DescriptorPool,
                    proto: descriptor_pb2.FileDescriptorProto) -> None:
    """Copies the google/protobuf/*.proto files ``proto`` imports into ``pool``."""
    default = descriptor_pool.Default()
    for name in proto.dependency:
        if not name.startswith("google/protobuf/"):
            continue
        try:
            pool.FindFileByName(name)
            continue
        except KeyError:
            pass
        try:
            found = default.FindFileByName(name)
        except KeyError:
            raise SchemaUnusable(f"the schema imports {name}, which this consumer does not "
                                 "carry") from None
        copy = descriptor_pb2.FileDescriptorProto()
        found.CopyToProto(copy)
        _add_well_known(pool, copy)
        pool.Add(copy)


def _descriptor(file: FileDescriptor, path: tuple[int, ...], schema_id: int) -> Descriptor:
    """The message at ``path`` (the wire format's message indexes): the first index picks a
    top-level message, each further one a nested message of the last."""
    try:
        descriptor: Descriptor = file.message_types_by_name[
            list(file.message_types_by_name)[path[0]]]
        for index in path[1:]:
            descriptor = descriptor.nested_types[index]
    except IndexError:
        raise SchemaUnusable(f"message indexes {list(path)} name no message of schema "
                             f"{schema_id} ({file.name})") from None
    return descriptor
