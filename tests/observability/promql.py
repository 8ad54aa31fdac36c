"""What a PromQL expression reads: metric names and label names, and what the consumer exports.

Enough of PromQL to check the dashboard and the alert rules against consumer/metrics.py, not a
parser: string literals, label matchers, ranges, Grafana variables, grouping clauses, function
calls and keywords are removed; the identifiers left are metric names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from consumer.metrics import Metrics

__all__ = ["Exported", "Reads", "exported", "reads"]

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_RANGE = re.compile(r"\[[^\]]*\]")
_GRAFANA_VAR = re.compile(r"\$\{?\w+(?::\w+)?\}?")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", re.I)
_CALL = re.compile(r"(?<![\w.:])([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_IDENT = re.compile(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "atan2", "inf", "nan"}


@dataclass
class Reads:
    metrics: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)  # in matchers and grouping clauses
    functions: set[str] = field(default_factory=set)
    rated: set[str] = field(default_factory=set)  # metrics inside rate()/irate()/increase()


def reads(expr: str) -> Reads:
    """The metric names, label names and functions one PromQL expression uses."""
    out = Reads()
    for m in re.finditer(r"\b(?:rate|irate|increase)\s*\(\s*([A-Za-z_:][A-Za-z0-9_:]*)", expr):
        out.rated.add(m.group(1))
    text = _STRING.sub(" ", expr)
    for matchers in _MATCHERS.findall(text):
        out.labels.update(_MATCHER_LABEL.findall(matchers))
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GRAFANA_VAR.sub(" ", text)
    for group in _GROUPING.findall(text):
        out.labels.update(x.strip() for x in group.split(",") if x.strip())
    text = _GROUPING.sub(" ", text)
    out.functions.update(_CALL.findall(text))
    text = _CALL.sub(" (", text)
    out.metrics.update(w for w in _IDENT.findall(text) if w.lower() not in _KEYWORDS)
    return out


@dataclass
class Exported:
    """Series names a scrape of the consumer can contain, with their label names."""

    labels: dict[str, set[str]]  # series name (with _total/_bucket/...) -> its label names
    family: dict[str, str]  # series name -> metric family as registered
    kind: dict[str, str]  # family -> counter / gauge / histogram

    def families_read(self, names: set[str]) -> set[str]:
        return {self.family[n] for n in names if n in self.family}


def exported(registry: CollectorRegistry) -> Exported:
    """Series names from ``registry.collect()`` (family name + type, since a labelled metric with
    no children yet has no samples), label names from a fresh ``Metrics`` (the same definitions)."""
    labels: dict[str, set[str]] = {}
    family: dict[str, str] = {}
    kind: dict[str, str] = {}
    # prometheus_client keeps label names in a private attribute; a test may read it.
    declared = {m._name: set(m._labelnames) for m in vars(Metrics(CollectorRegistry())).values()
                if isinstance(m, MetricWrapperBase)}
    for fam in registry.collect():
        base = set(declared.get(fam.name, set()))
        for s in fam.samples:
            base.update(k for k in s.labels if k != "le")
        kind[fam.name] = fam.type
        if fam.type == "counter":
            series = {fam.name + "_total": base}
        elif fam.type == "histogram":
            series = {fam.name + "_bucket": base | {"le"}, fam.name + "_sum": base,
                      fam.name + "_count": base}
        else:
            series = {fam.name: base}
        for name, names in series.items():
            labels[name] = names
            family[name] = fam.name
    return Exported(labels, family, kind)
