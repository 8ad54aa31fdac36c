"""freshdesk.budget in the subscription file: defaults, checks that name the key and the fix."""

from __future__ import annotations

import asyncio

import pytest

from consumer.config import ConfigError, parse_config
from consumer.delivery.budget import AccountBudget, make_budget


def config(budget: dict, ledger: dict | None = None):
    document = {"kafka": {"bootstrap.servers": "127.0.0.1:9092", "group.id": "g"},
                "freshdesk": {"domain": "acme", "api_key": "k", "budget": budget},
                "subscriptions": [{"topic": "orders", "transform": "orders"}]}
    if ledger is not None:
        document["ledger"] = ledger
    return parse_config(document, "subscriptions.yaml", env={})


def test_defaults_pace_locally_on_an_auto_window_with_a_tenth_in_reserve():
    budget = config({}).freshdesk.budget
    assert (budget.backend, budget.window_s, budget.reserve) == ("local", "auto", 0.10)
    assert budget.fixed_window_s is None
    assert isinstance(make_budget(config({}).freshdesk, config({}).ledger), AccountBudget)


def test_redis_without_a_url_of_its_own_or_the_ledgers_names_the_key_and_the_fix():
    with pytest.raises(ConfigError) as caught:
        config({"backend": "redis"})
    text = str(caught.value)
    assert "subscriptions.yaml: freshdesk.budget.url" in text and "fix:" in text
    assert "ledger.backend: redis" in text


def test_redis_shares_the_ledgers_url_by_default_and_keeps_its_password_out_of_reprs():
    ledger = {"backend": "redis", "url": "redis://:pw-ledger@127.0.0.1:6379/0"}
    cfg = config({"backend": "redis", "window_s": 60}, ledger)
    budget = make_budget(cfg.freshdesk, cfg.ledger)
    try:
        shown = repr(budget) + repr(cfg) + repr(cfg.freshdesk)
        assert "127.0.0.1:6379" in repr(budget) and "pw-ledger" not in shown
        assert "{acme.freshdesk.com}" in repr(budget), "one schedule per account"
    finally:
        asyncio.run(budget.aclose())


@pytest.mark.parametrize(("budget", "named"), [
    ({"window_s": 0.5}, "window_s"),
    ({"window_s": "hourly"}, "window_s"),
    ({"reserve": 1.0}, "reserve"),
    ({"url": "redis://h:6379/0"}, "only read with backend: redis"),
    ({"backend": "redis", "url": "http://h"}, "must start with redis://"),
    ({"reservee": 0.2}, "reservee"),
])
def test_bad_budget_settings_are_named(budget, named):
    with pytest.raises(ConfigError, match=named):
        config(budget)


def test_the_budget_url_password_is_known_for_log_redaction():
    cfg = config({"backend": "redis", "url": "redis://:s%40cret@h:6379/0"})
    assert cfg.freshdesk.budget.url_password == "s@cret"
    assert "s%40cret" not in repr(cfg.freshdesk.budget)
