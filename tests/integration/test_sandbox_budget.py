"""The sandbox's rate budget over HTTP: window kinds, an accelerated hour, another integration,
all switched like its faults (settings, CLI flags, POST /_sandbox/budget)."""

from __future__ import annotations

import argparse
import time

import httpx
import pytest

from consumer_devtools.sandbox import SandboxServer
from consumer_devtools.sandbox import cli as sandbox_cli
from tests.fixtures.sandbox import SandboxFactory
from tests.integration.test_sandbox import EXAMPLE, post

pytestmark = pytest.mark.integration


def test_budget_is_shown_and_switched_at_runtime_and_bad_keys_are_named(
        sandbox: SandboxServer) -> None:
    shown = httpx.get(sandbox.base_url + "/_sandbox/budget").json()
    assert (shown["rate_limit"], shown["window_kind"], shown["time_scale"]) == (700, "fixed", 1.0)

    changed = httpx.post(sandbox.base_url + "/_sandbox/budget",
                         json={"rate_limit": 2, "window_kind": "sliding"}).json()
    assert (changed["rate_limit"], changed["window_kind"]) == (2, "sliding")
    assert [post(sandbox, EXAMPLE).status_code for _ in range(3)] == [200, 200, 429]

    for bad, named in [({"window_kind": "rolling"}, "window_kind"), ({"limit": 5}, "limit")]:
        answer = httpx.post(sandbox.base_url + "/_sandbox/budget", json=bad)
        assert answer.status_code == 400 and named in answer.json()["message"]
    assert sandbox.budget()["rate_limit"] == 2, "a refused change changes nothing"


def test_an_accelerated_hourly_window_answers_retry_after_in_real_seconds(
        sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(rate_limit=2, window_seconds=3600, time_scale=1800)  # an hour in 2 s
    answers = [post(sandbox, EXAMPLE) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["Retry-After"] in ("1", "2"), "real seconds, not account seconds"
    assert "3600 seconds" in answers[2].json()["message"]


def test_another_integration_spends_from_the_same_budget(sandbox_factory: SandboxFactory) -> None:
    # Its whole share of a window is due within the window: read the budget after it has passed
    # (a poll, not a sleep: the account's clock decides, not ours).
    sandbox = sandbox_factory(rate_limit=10, window_seconds=3600, time_scale=36000,  # 0.1 s
                              others_share=0.5)
    deadline = time.monotonic() + 10
    others = sandbox.budget()["others"]
    while others["sent"] < 5:
        assert time.monotonic() < deadline, f"the other integration never spent: {others}"
        others = sandbox.budget()["others"]
    assert others["calls_per_window"] == 5 and others["accepted"] >= 5
    assert post(sandbox, EXAMPLE).status_code == 200


def test_cli_flags_reach_the_settings() -> None:
    parser = argparse.ArgumentParser()
    sandbox_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["sandbox", "--window-kind", "sliding", "--time-scale", "600",
                              "--window-seconds", "3600", "--others-share", "0.2"])
    settings = sandbox_cli.settings_from(args)
    assert (settings.window_kind, settings.time_scale, settings.window_seconds,
            settings.others_share) == ("sliding", 600.0, 3600.0, 0.2)
