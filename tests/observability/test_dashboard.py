"""The Grafana dashboard reads only what the consumer exports, and shows everything it exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consumer.metrics import REGISTRY
from tests.observability.promql import exported, reads

DASHBOARD = (Path(__file__).parents[2] / "helm" / "freshdesk-activity-consumer" / "dashboards"
             / "activity-consumer.json")
# Labels Prometheus (or Kubernetes service discovery) adds to every scraped series.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
# Exported metrics no panel needs to show: none today. Name each with the reason.
NOT_ON_THE_DASHBOARD: dict[str, str] = {}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dashboard["panels"]:
        out.extend(p.get("panels", []) if p["type"] == "row" else [p])
    return out


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    found = [(f"panel {p['title']!r}", t["expr"]) for p in _panels(dashboard) for t in p["targets"]]
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            # label_values(selector, label): the selector is PromQL, the label is a label
            inner = q.removeprefix("label_values(").removesuffix(")")
            selector, _, label = inner.rpartition(",")
            found.append((f"variable ${v['name']} ({label.strip()})", selector))
    return found


def test_dashboard_is_grafana_json_with_a_prometheus_datasource_variable(dashboard):
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]] + [p["id"] for p in _panels(dashboard)
                                                    if p not in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_every_panel_has_a_title_and_queries_on_the_datasource_variable(dashboard):
    for p in _panels(dashboard):
        assert p.get("title"), f"panel {p.get('id')} has no title"
        assert p.get("targets"), f"panel {p['title']!r} has no targets"
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        for t in p["targets"]:
            assert t.get("expr", "").strip(), f"panel {p['title']!r} has an empty query"
            assert t["datasource"]["uid"] == "${datasource}", p["title"]


def test_every_query_filters_on_the_namespace_and_job_variables(dashboard):
    for where, expr in _queries(dashboard):
        if where.startswith("panel"):
            for selector_var in ('namespace=~"$namespace"', 'job=~"$job"'):
                assert expr.count(selector_var) == expr.count("activity_consumer_"), (where, expr)


def test_every_metric_a_query_reads_is_exported_by_the_consumer(dashboard):
    ex = exported(REGISTRY)
    problems = []
    for where, expr in _queries(dashboard):
        r = reads(expr)
        if not r.metrics:
            problems.append(f"{where}: reads no metric: {expr}")
        for name in sorted(r.metrics - ex.labels.keys()):
            problems.append(f"{where}: {name} is not exported by consumer/metrics.py")
        for name in sorted(r.rated):
            if not name.endswith(("_total", "_bucket", "_sum", "_count")):
                problems.append(f"{where}: rate()/increase() of {name}, which is not a counter")
        known = set().union(*(ex.labels.get(n, set()) for n in r.metrics)) | TARGET_LABELS
        for label in sorted(r.labels - known):
            problems.append(f"{where}: label {label!r} is not on {sorted(r.metrics)}")
    assert not problems, "\n".join(problems)


def test_histogram_quantiles_read_buckets_grouped_by_le(dashboard):
    for where, expr in _queries(dashboard):
        if "histogram_quantile" in expr:
            assert "_bucket" in expr and "by (le" in expr, (where, expr)


def test_every_exported_metric_is_on_some_panel(dashboard):
    ex = exported(REGISTRY)
    shown = set().union(*(ex.families_read(reads(expr).metrics) for _, expr in _queries(dashboard)))
    invisible = set(ex.kind) - shown - set(NOT_ON_THE_DASHBOARD)
    assert not invisible, f"exported but on no panel: {sorted(invisible)}"


def test_the_extractor_strips_functions_labels_ranges_and_suffixes():
    r = reads('histogram_quantile(0.95, sum by (le, topic) (rate(activity_consumer_x_bucket'
              '{job=~"$job", reason!="a b"}[$__rate_interval]))) / on (topic) group_left '
              'max(foo_total offset 5m) > bool 1e3 unless time() - bar')
    assert r.metrics == {"activity_consumer_x_bucket", "foo_total", "bar"}
    assert r.labels == {"le", "topic", "job", "reason"}
    assert r.rated == {"activity_consumer_x_bucket"}
    assert {"histogram_quantile", "sum", "rate", "max", "time"} <= r.functions
