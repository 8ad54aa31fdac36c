"""The command line as a user meets it: check-config's explanations, and the README's demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from consumer_devtools.samples import order_event

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
kafka:
  bootstrap.servers: 127.0.0.1:9092
  group.id: g
freshdesk:
  domain: acme
  api_key: ${FRESHDESK_API_KEY}
subscriptions:
  - topic: orders
    transform: orders
  - topic: ^payments\\.(eu|us)$
    transform: payments
"""


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run([sys.executable, "-m", "consumer", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "FRESHDESK_API_KEY": "k-123456", **(env or {})})


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(text)
    return str(path)


def test_check_config_accepts_a_good_file_and_lists_its_routes(tmp_path):
    result = cli("check-config", write(tmp_path, GOOD))
    assert result.returncode == 0, result.stderr
    assert "subscriptions.yaml: OK" in result.stdout
    assert re.search(r"^  orders +→ orders \(built-in\)$", result.stdout, re.M)
    assert "k-123456" not in result.stdout + result.stderr, "the API key is never printed"


def test_check_config_explains_a_missing_file(tmp_path):
    result = cli("check-config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "absent.yaml: file not found" in result.stderr and "fix:" in result.stderr


def test_check_config_explains_bad_yaml_with_line_and_column(tmp_path):
    result = cli("check-config", write(tmp_path, GOOD.replace("group.id: g", "group.id: [g")))
    assert result.returncode == 2
    assert "not valid YAML at line" in result.stderr and "subscriptions.yaml" in result.stderr


def test_check_config_explains_an_unknown_transform(tmp_path):
    result = cli("check-config", write(tmp_path, GOOD.replace("transform: payments",
                                                              "transform: paymnets")))
    assert result.returncode == 2
    assert "subscriptions[1].transform" in result.stderr
    assert "paymnets" in result.stderr and "orders" in result.stderr  # names the known ones


def test_check_config_explains_an_import_path_that_does_not_import(tmp_path):
    result = cli("check-config", write(tmp_path, GOOD.replace("transform: payments",
                                                              "transform: nosuch.module:fn")))
    assert result.returncode == 2
    assert "subscriptions[1].transform" in result.stderr and "nosuch" in result.stderr


def test_check_config_explains_a_missing_environment_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "FRESHDESK_API_KEY"}
    result = subprocess.run([sys.executable, "-m", "consumer", "check-config",
                             write(tmp_path, GOOD)], capture_output=True, text=True, cwd=ROOT,
                            env=env, timeout=60)
    assert result.returncode == 2
    assert "freshdesk.api_key: environment variable FRESHDESK_API_KEY is not set" in result.stderr
    assert "export FRESHDESK_API_KEY" in result.stderr


@pytest.mark.integration
def test_the_readme_demo_delivers_the_samples_and_dead_letters_the_bad_one(tmp_path):
    result = subprocess.run([sys.executable, "-m", "consumer_devtools", "demo", "--no-keep-open",
                             "--workdir", str(tmp_path / "demo")], capture_output=True, text=True,
                            timeout=240, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "settled 22 events" in result.stdout
    assert "21 delivered, 1 dead-lettered, 0 filtered" in result.stdout
    assert "21 activities on 4 contacts" in result.stdout
    assert "rejected: Freshdesk answered 400: contact.email invalid_value" in result.stdout


@pytest.mark.integration
def test_try_post_says_what_the_consumer_would_do_with_each_answer(sandbox_factory, tmp_path):
    """`try --post` posts with the consumer's own client: a 200 is delivered, a 429 is a wait
    (exit 0, as the consumer waits), a wrong key is a halt (exit 1)."""
    sandbox = sandbox_factory(rate_limit=1, window_seconds=600)
    events = tmp_path / "orders.jsonl"
    events.write_text("\n".join(orjson.dumps(order_event(n, email="rachel@example.com")).decode()
                                for n in (1, 2)) + "\n")
    ok = cli("try", "-t", "orders", str(events), "--post", sandbox.base_url,
             "--api-key", "sandbox-key")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = [line for line in ok.stdout.splitlines() if line.startswith("posted to")]
    assert lines[0].endswith("200 delivered: on the timeline"), lines
    assert "429 throttled: the consumer would wait" in lines[1], lines
    assert len(sandbox.activities()) == 1
    wrong = cli("try", "-t", "orders", str(events), "--post", sandbox_factory().base_url,
                "--api-key", "nope")
    assert wrong.returncode == 1
    assert "401 halt: the API key is wrong" in wrong.stdout
