"""Decoding: a message's value (and key) from its wire format to plain JSON-like Python.

``json``, or ``avro`` / ``protobuf`` / ``json_schema`` through a Schema Registry (the Confluent
wire format). One decoder per subscription, built once (:func:`make_decoder`); its result is the
value, a message fault (dead-letter it) or an outage (pause the partition): see
:mod:`consumer.decoding.result`.
"""

from typing import TYPE_CHECKING, Any

from consumer.decoding.result import Decoded, DecodeResult, RegistryUnavailable, Undecodable

if TYPE_CHECKING:
    from consumer.decoding.decoders import DEFAULT_MAX_BYTES, Decoder, make_decoder
    from consumer.decoding.registry import SchemaRegistry

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DecodeResult",
    "Decoded",
    "Decoder",
    "RegistryUnavailable",
    "SchemaRegistry",
    "Undecodable",
    "make_decoder",
]

_LAZY = {"DEFAULT_MAX_BYTES": "decoders", "Decoder": "decoders", "make_decoder": "decoders",
         "SchemaRegistry": "registry"}


def __getattr__(name: str) -> Any:
    """The decoders and the registry client, imported when first asked for: they bring
    confluent-kafka's serdes, fastavro, protobuf and an HTTP client (~300 modules, ~20 MB) that
    a consumer of JSON topics never needs."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'consumer.decoding' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"consumer.decoding.{module}"), name)
