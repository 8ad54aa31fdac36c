"""The decoding configuration shapes: what passes through to SchemaRegistryClient, what is refused."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from pydantic import ValidationError

from consumer.config import SchemaRegistrySettings, Subscription
from consumer.decoding import make_decoder


def test_dotted_keys_pass_through_to_the_client_with_secrets_revealed_only_there():
    import certifi
    settings = SchemaRegistrySettings.model_validate({
        "url": "https://registry.example:8081",
        "basic.auth.user.info": "key:s3cret",
        "ssl.ca.location": certifi.where(),
    })

    conf = settings.client_config()

    assert conf == {"url": "https://registry.example:8081", "timeout": 5.0, "max.retries": 0,
                    "cache.capacity": 1000, "basic.auth.user.info": "key:s3cret",
                    "ssl.ca.location": certifi.where()}
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings)
    assert set(settings.secrets()) == {"key:s3cret", "s3cret"}
    SchemaRegistryClient(conf).close()  # the client takes every key we give it


def test_a_static_bearer_token_passes_through():
    settings = SchemaRegistrySettings.model_validate({
        "url": "https://psrc.example", "bearer.auth.credentials.source": "STATIC_TOKEN",
        "bearer.auth.token": "tok", "bearer.auth.logical.cluster": "lsrc-1"})

    conf = settings.client_config()

    assert conf["bearer.auth.token"] == "tok" and conf["bearer.auth.logical.cluster"] == "lsrc-1"
    SchemaRegistryClient(conf).close()


@pytest.mark.parametrize(("given", "said"), [
    ({"url": "registry:8081"}, "must start with http://"),
    ({"url": "http://r", "bearer.auth.credentials.source": "STATIC_TOKEN"}, "bearer.auth.token"),
    ({"url": "http://r", "basic.auth.user.info": "nocolon"}, "user:password"),
    ({"url": "http://r", "basic.auth.user.info": "a:b",
      "bearer.auth.credentials.source": "STATIC_TOKEN", "bearer.auth.token": "t"}, "exclude"),
    ({"url": "http://r", "ssl.key.location": "/k"}, "ssl.certificate.location"),
    ({"url": "http://r", "schema.registry.url": "x"}, "Extra inputs are not permitted"),
])
def test_a_bad_registry_section_says_what_to_fix(given, said):
    with pytest.raises(ValidationError, match=said):
        SchemaRegistrySettings.model_validate(given)


def InputSettings(**fields):  # a subscription's input fields, with a transform
    return Subscription(topic="t", transform="orders", **fields)


def test_input_defaults_are_plain_json_without_an_envelope():
    settings = InputSettings()

    assert (settings.format, settings.key_format, settings.envelope, settings.snapshot) == (
        "json", "raw", "none", "skip")
    assert not settings.needs_registry
    assert InputSettings(format="avro").needs_registry
    assert InputSettings(key_format="protobuf").needs_registry


def test_snapshot_include_needs_the_debezium_envelope():
    with pytest.raises(ValidationError, match="only applies to envelope: debezium"):
        InputSettings(snapshot="include")


def test_a_registry_format_without_a_registry_is_refused_at_build_time():
    with pytest.raises(ValueError, match="needs the schema_registry section"):
        make_decoder("avro")


def test_json_values_decode_and_a_framed_value_on_a_json_topic_gets_a_hint():
    decode = make_decoder("json")

    assert decode(b'{"id": 820982911946154508}', "t").value == {"id": 820982911946154508}  # type: ignore[union-attr]
    bad = decode(b"\x00\x00\x00\x00\x01\x02", "t")
    assert bad.kind == "not_json" and "magic byte" in bad.error  # type: ignore[union-attr]
    too_big = make_decoder("json", max_bytes=10)(b'{"a": "0123456789"}', "t")
    assert too_big.kind == "too_large"  # type: ignore[union-attr]


def test_a_subscription_takes_exactly_one_of_transform_and_mapping():
    assert Subscription(topic="t", mapping="m/orders.jsonata").name == "mapping:m/orders.jsonata"
    assert Subscription(topic="t", mapping='{"key": id}').name == "mapping:inline"
    for fields in ({}, {"transform": "orders", "mapping": "m.jsonata"}):
        with pytest.raises(ValidationError, match="exactly one of transform"):
            Subscription(topic="t", **fields)
