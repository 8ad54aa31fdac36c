"""Decoding: a message's value (and key) from its wire format to plain JSON-like Python.

``json``, or ``avro`` / ``protobuf`` / ``json_schema`` through a Schema Registry (the Confluent
wire format). One decoder per subscription, built once (:func:`make_decoder`); its result is the
value, a message fault (dead-letter it) or an outage (pause the partition): see
:mod:`consumer.decoding.result`.
"""

from consumer.decoding.decoders import DEFAULT_MAX_BYTES, Decoder, make_decoder
from consumer.decoding.registry import SchemaRegistry
from consumer.decoding.result import Decoded, DecodeResult, RegistryUnavailable, Undecodable

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
