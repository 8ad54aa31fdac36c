import time
from pathlib import Path

import pytest

from consumer.config import ConfigError, load_config, parse_config

GOOD = """
kafka:
  bootstrap.servers: 127.0.0.1:9092
  group.id: g
  sasl.password: ${KAFKA_PASSWORD}
freshdesk:
  domain: acme
  api_key: ${FRESHDESK_API_KEY}
subscriptions:
  - topic: orders
    transform: orders
"""
ENV = {"FRESHDESK_API_KEY": "fd-secret-key-123", "KAFKA_PASSWORD": "kafka-pw-456"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "subs.yaml"
    path.write_text(text)
    return path


def test_a_good_file_loads_with_secrets_from_the_environment(tmp_path):
    config = load_config(write(tmp_path, GOOD), env=ENV)
    assert config.freshdesk.url == "https://acme.freshdesk.com"
    assert config.freshdesk.api_key.get_secret_value() == "fd-secret-key-123"
    assert config.kafka["sasl.password"] == "kafka-pw-456"
    assert config.dead_letter.topic_for("orders") == "orders.dlq"


def test_secrets_never_show_in_repr_or_str(tmp_path):
    config = load_config(write(tmp_path, GOOD), env=ENV)
    for text in (repr(config), str(config), repr(config.freshdesk), str(config.kafka_for_display())):
        assert "fd-secret-key-123" not in text and "kafka-pw-456" not in text


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml: file not found" in str(e.value) and "--config" in str(e.value)


def test_bad_yaml_names_line_and_column(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "kafka:\n  a: [1, 2\nfreshdesk: {}\n"), env=ENV)
    assert "not valid YAML at line" in str(e.value) and "subs.yaml" in str(e.value)


def test_missing_environment_variable_names_key_and_variable(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, GOOD), env={"KAFKA_PASSWORD": "x"})
    text = str(e.value)
    assert "subs.yaml: freshdesk.api_key: environment variable FRESHDESK_API_KEY is not set" in text
    assert "export FRESHDESK_API_KEY" in text


def test_default_after_colon_dash_is_used_when_unset():
    doc = {"kafka": {"bootstrap.servers": "${BOOT:-127.0.0.1:1}", "group.id": "g"},
           "freshdesk": {"base_url": "http://127.0.0.1:9", "api_key": "k"},
           "subscriptions": [{"topic": "t", "transform": "orders"}]}
    assert parse_config(doc, env={}).kafka["bootstrap.servers"] == "127.0.0.1:1"


def test_every_problem_is_reported_with_its_key(tmp_path):
    text = GOOD.replace("domain: acme", "domian: acme").replace("group.id: g", "group.id: ''")
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text + "processing:\n  max_pending_messages: 0\n"), env=ENV)
    keys = {p.key for p in e.value.problems}
    assert {"freshdesk.domian", "processing.max_pending_messages"} <= keys
    assert all(p.fix for p in e.value.problems)


def test_plain_http_is_only_for_a_local_sandbox():
    doc = {"kafka": {"bootstrap.servers": "b", "group.id": "g"},
           "freshdesk": {"base_url": "http://acme.freshdesk.com", "api_key": "k"},
           "subscriptions": [{"topic": "t", "transform": "orders"}]}
    with pytest.raises(ConfigError, match="https"):
        parse_config(doc, env={})


def test_a_redis_lease_shorter_than_a_request_is_refused_with_both_keys_named(tmp_path):
    ledger = "ledger:\n  backend: redis\n  url: redis://127.0.0.1:6379/0\n  lease_s: 10\n"
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, GOOD + ledger), env=ENV)
    [problem] = e.value.problems
    assert problem.key == "ledger.lease_s"
    assert "freshdesk.timeout_s (10 s)" in problem.message and "above 10" in problem.fix
    assert "subs.yaml" in str(e.value)
    longer = load_config(write(tmp_path, GOOD + ledger.replace("lease_s: 10", "lease_s: 11")),
                         env=ENV)
    assert longer.ledger.lease_s == 11


# --- the file itself: strict, bounded, clear ----------------------------------------------------

MINIMAL = "kafka: {bootstrap.servers: x, group.id: g}\nfreshdesk: {domain: a, api_key: k}\n" \
          "subscriptions: [{topic: t, transform: orders}]\n"


def _problem(tmp_path, content: bytes) -> str:
    path = tmp_path / "subscriptions.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    return str(caught.value)


def test_a_billion_laughs_file_stops_quickly_at_the_expansion_bound(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.process_time()
    text = _problem(tmp_path, ("\n".join(lines) + "\n").encode())
    assert "expands to more than 100,000 values" in text
    assert time.process_time() - started < 5, "bounded while composing, not after expanding"


def test_an_alias_within_the_bound_is_fine(tmp_path):
    path = tmp_path / "subscriptions.yaml"
    path.write_text(MINIMAL.replace("freshdesk: {domain: a, api_key: k}",
                                    "common: &fd {domain: a, api_key: k}\nfreshdesk: *fd")
                    .replace("common:", "x-common:"))
    with pytest.raises(ConfigError, match="x-common"):  # an unknown top-level key, not a crash
        load_config(path, env={})


def test_a_duplicate_key_names_both_lines(tmp_path):
    text = _problem(tmp_path, b"kafka: {bootstrap.servers: x}\nfreshdesk: {}\nkafka: {group.id: g}\n")
    assert "key 'kafka' appears twice in one mapping: line 1 and line 3" in text


def test_invalid_utf8_names_the_byte_offset(tmp_path):
    text = _problem(tmp_path, MINIMAL.encode().replace(b"domain: a", b"domain: \xff"))
    assert "not UTF-8: byte 0xff at offset" in text and "(line 2)" in text


def test_a_file_over_the_size_bound_is_refused_before_it_is_read(tmp_path):
    text = _problem(tmp_path, MINIMAL.encode() + b"#" * (2 * 1024 * 1024))
    assert "a subscription file is at most 1,048,576" in text


@pytest.mark.parametrize(("kafka", "said"), [
    ({"fetch.max.bytesx": 1}, 'kafka.fetch.max.bytesx: librdkafka refuses the consumer'),
    ({"fetch.max.bytes": "abc"}, 'Invalid value for configuration property "fetch.max.bytes"'),
    ({"message.max.bytes": 100_000_000}, "`fetch.max.bytes` must be >= `message.max.bytes`"),
])
def test_librdkafka_settings_run_would_refuse_are_config_problems(kafka, said):
    from consumer.config.kafka import problems

    found = problems({"bootstrap.servers": "x", "group.id": "g", **kafka})
    assert len(found) == 1 and said in found[0].render("f.yaml")
