"""The alert rules: valid for Prometheus, each alert proven by promtool to fire and to stay quiet,
each with what an operator needs, and reading only metrics the consumer exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.metrics import REGISTRY
from tests.observability.promql import exported, reads

ROOT = Path(__file__).parents[2]
CHART = ROOT / "helm" / "freshdesk-activity-consumer"
RULES = CHART / "alerts" / "activity-consumer-rules.yaml"
RUNBOOK = CHART / "alerts" / "RUNBOOK.md"
ALERT_TESTS = Path(__file__).parent / "alerts_test.yaml"
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
SEVERITIES = {"critical", "warning", "info"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: apt-get install prometheus "
                    "(Debian's package brings prometheus and promtool)")
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_rules_file_is_valid_for_promtool():
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, f"promtool check rules failed:\n{result.stdout}{result.stderr}"


def test_rules_file_is_only_groups_so_it_embeds_in_a_prometheusrule_spec():
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert list(doc) == ["groups"]
    assert all(set(g) <= {"name", "interval", "rules", "limit"} for g in doc["groups"])


def test_every_alert_fires_on_a_broken_series_and_stays_quiet_on_a_healthy_one(tmp_path: Path):
    # promtool compares annotations verbatim; the tests give labels only (see alerts_test.yaml),
    # so they run against a copy of the rules without annotations.
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    tests["rule_files"] = ["rules.yaml"]
    (tmp_path / "alerts_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))

    result = run_promtool("test", "rules", str(tmp_path / "alerts_test.yaml"))
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}{result.stderr}"
    print(result.stdout)


def test_every_alert_has_a_firing_and_a_quiet_promtool_case():
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    fires, quiet = set(), set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names - fires == set(), f"alerts never shown to fire: {sorted(names - fires)}"
    assert names - quiet == set(), f"alerts never shown quiet: {sorted(names - quiet)}"


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook():
    for a in _alerts():
        assert a.get("labels", {}).get("severity") in SEVERITIES, a["alert"]
        for key in ("summary", "description", "runbook"):
            assert str(a.get("annotations", {}).get(key, "")).strip(), f"{a['alert']}: no {key}"
        assert a["alert"].startswith("ActivityConsumer"), a["alert"]


def test_alert_expressions_read_only_exported_metrics_and_their_labels():
    ex = exported(REGISTRY)
    problems = []
    for a in _alerts():
        r = reads(a["expr"])
        problems += [f"{a['alert']}: {n} is not exported by consumer/metrics.py"
                     for n in sorted(r.metrics - ex.labels.keys())]
        problems += [f"{a['alert']}: rate()/increase() of {n}, which is not a counter"
                     for n in sorted(r.rated) if not n.endswith(("_total", "_bucket", "_sum", "_count"))]
        known = set().union(*(ex.labels.get(n, set()) for n in r.metrics)) | TARGET_LABELS
        problems += [f"{a['alert']}: label {label!r} is not on {sorted(r.metrics)}"
                     for label in sorted(r.labels - known)]
    assert not problems, "\n".join(problems)


def test_runbook_explains_every_alert_and_every_metric():
    text = RUNBOOK.read_text(encoding="utf-8")
    missing = [f"alert {a['alert']}" for a in _alerts() if f"### {a['alert']}" not in text]
    ex = exported(REGISTRY)
    for fam, kind in sorted(ex.kind.items()):
        name = fam + "_total" if kind == "counter" else fam
        if not re.search(rf"`{name}(\{{[a-z_,]*\}})?`", text):  # `name` or `name{labels}`
            missing.append(f"metric {name}")
    assert not missing, f"RUNBOOK.md does not explain: {missing}"
