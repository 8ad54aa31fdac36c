"""The Schema Registry launcher (consumer_devtools.schema_registry) the decoding tests stand on."""

from __future__ import annotations

import json

import httpx
import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

pytestmark = pytest.mark.integration

_V1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}


def test_global_compatibility_is_backward_so_a_breaking_change_is_refused(
        schema_registry, registry_client, subject_factory):
    subject = subject_factory("compat") + "-value"
    registry_client.register_schema(subject, Schema(json.dumps(_V1), "AVRO"))
    breaking = {**_V1, "fields": [{"name": "b", "type": "string"}]}  # no default: not BACKWARD

    assert httpx.get(schema_registry.url + "/config").json()["compatibilityLevel"] == "BACKWARD"
    with pytest.raises(SchemaRegistryError) as refused:
        registry_client.register_schema(subject, Schema(json.dumps(breaking), "AVRO"))
    assert refused.value.http_status_code == 409


def test_the_management_interface_listens_on_loopback_on_a_port_of_its_own(schema_registry):
    log = schema_registry.log_path.read_text()

    assert f"Listening on: http://127.0.0.1:{schema_registry.port}" in log
    assert (f"Management interface listening on http://127.0.0.1:"
            f"{schema_registry.management_port}") in log
    assert schema_registry.management_port != 9000
