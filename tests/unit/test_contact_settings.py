"""The contacts: section: defaults, backends, the ledger's Redis shared, and file/key/fix errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.config import ConfigError, directory_url, parse_config
from consumer.contacts.directory import MemoryDirectory, RedisDirectory, make_directory

BASE = {
    "kafka": {"bootstrap.servers": "127.0.0.1:9092", "group.id": "g"},
    "freshdesk": {"domain": "acme", "api_key": "k" * 20},
    "subscriptions": [{"topic": "stripe", "transform": "stripe"}],
}
LEDGER_URL = "redis://:ledger-pw-123@10.0.0.1:6379/0"


def config(contacts=None, ledger=None):
    doc = dict(BASE)
    if contacts is not None:
        doc["contacts"] = contacts
    if ledger is not None:
        doc["ledger"] = ledger
    return parse_config(doc, "subs.yaml", env={})


def problems(contacts=None, ledger=None) -> str:
    with pytest.raises(ConfigError) as e:
        config(contacts, ledger)
    return str(e.value)


def test_the_defaults_are_a_memory_directory_kept_180_days_and_an_hour_of_waiting():
    c = config().contacts
    assert (c.backend, c.ttl_s, c.wait_s, c.max_waiting, c.max_entries, c.prefix) == (
        "memory", 180 * 86400, 3600, 10_000, 500_000, "fdac-contacts:")
    assert isinstance(make_directory(c, config().ledger), MemoryDirectory)


def test_redis_without_a_url_shares_the_ledgers_redis():
    cfg = config({"backend": "redis"}, {"backend": "redis", "url": LEDGER_URL})
    assert directory_url(cfg.contacts, cfg.ledger).get_secret_value() == LEDGER_URL
    d = make_directory(cfg.contacts, cfg.ledger)
    try:
        assert isinstance(d, RedisDirectory) and d.prefix == "fdac-contacts:"
        assert "ledger-pw-123" not in repr(d)
    finally:
        d.close()


def test_redis_without_a_url_and_no_ledger_redis_names_the_key_and_the_fix():
    text = problems({"backend": "redis"})
    assert "subs.yaml: contacts.url: backend redis needs a Redis" in text
    assert "fix: set contacts.url: ${CONTACTS_REDIS_URL}" in text


def test_a_prefix_overlapping_the_ledgers_in_the_same_redis_is_refused():
    text = problems({"backend": "redis", "prefix": "fdac:contacts:"},
                    {"backend": "redis", "url": LEDGER_URL})
    assert "contacts.prefix: 'fdac:contacts:' overlaps ledger.prefix 'fdac:'" in text
    # another Redis, or a prefix of its own: fine
    config({"backend": "redis", "prefix": "fdac:", "url": "redis://other:6379/0"},
           {"backend": "redis", "url": LEDGER_URL})
    config({"backend": "redis", "prefix": "contacts:"}, {"backend": "redis", "url": LEDGER_URL})


def test_a_url_is_refused_with_the_memory_backend_and_a_wrong_scheme_named():
    assert "contacts.url is only read with backend: redis" in problems({"url": "redis://h/0"})
    text = problems({"backend": "redis", "url": "http://:pw-abcdef@h:6379/0"})
    assert "must start with redis://" in text and "pw-abcdef" not in text


def test_unknown_keys_and_bad_numbers_name_the_key(tmp_path):
    assert "contacts.wait" in problems({"wait": 10})
    assert "contacts.ttl_s" in problems({"ttl_s": 0})
    text = problems({"bootstrap_file": str(tmp_path / "missing.jsonl")})
    assert "subs.yaml: contacts.bootstrap_file: " in text and "missing.jsonl is not a file" in text
    assert "fix: give the path of a JSON Lines file" in text


def test_a_bootstrap_file_that_exists_is_kept_as_a_path(tmp_path):
    f = tmp_path / "customers.jsonl"
    f.write_text("")
    assert config({"bootstrap_file": str(f)}).contacts.bootstrap_file == Path(f)


def test_the_password_shows_nowhere(tmp_path):
    cfg = config({"backend": "redis", "url": "redis://:dir-pw-98765@h:6379/0"})
    assert cfg.contacts.url_password == "dir-pw-98765"
    for text in (repr(cfg), str(cfg), repr(cfg.contacts), str(cfg.contacts)):
        assert "dir-pw-98765" not in text
