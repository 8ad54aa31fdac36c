"""Every object the chart renders, for every ci/*-values.yaml, is valid Kubernetes: built-in kinds
against the OpenAPI schemas of Kubernetes 1.37 (kubernetes-validate, strict: unknown fields
fail), custom resources against their CRDs field by field; and `helm lint --strict` is clean."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from tests.chart.crd_models import known, validate_custom_resource
from tests.chart.helm import CI_VALUES, Helm

pytestmark = pytest.mark.helm

KUBERNETES = "1.37.0"
BUILT_IN = {"Deployment", "ConfigMap", "Secret", "ServiceAccount", "Service", "PodDisruptionBudget",
            "NetworkPolicy", "HorizontalPodAutoscaler", "Pod"}  # Pod: the `helm test` hook
CUSTOM = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}


def test_the_ci_values_cover_the_issues_matrix():
    names = {p.name for p in CI_VALUES}
    assert {"minimal-values.yaml", "all-features-values.yaml", "existing-secret-values.yaml",
            "hpa-values.yaml"} <= names


@pytest.mark.parametrize("values", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_helm_lint_strict_is_clean(helm: Helm, values: Path):
    result = helm.lint(values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("values", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_every_rendered_object_is_valid_against_its_schema(helm: Helm, values: Path):
    problems = []
    for doc in helm.template(values).docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if known(doc):
            problems += [f"{name}: {p}" for p in validate_custom_resource(doc)]
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{name}: {'.'.join(map(str, e.path))}: {e.message}")
    assert not problems, "\n".join(problems)


def test_the_ci_values_render_every_kind_the_chart_has(helm: Helm):
    kinds = {d["kind"] for values in CI_VALUES for d in helm.template(values).docs}
    assert kinds == BUILT_IN | CUSTOM


def test_the_custom_resource_check_catches_a_misplaced_field(helm: Helm):
    monitor = helm.template("all-features-values.yaml").one("ServiceMonitor")
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    scaled = helm.template("all-features-values.yaml").one("ScaledObject")
    scaled["spec"]["maxReplicas"] = 3
    assert validate_custom_resource(monitor) == [
        "ServiceMonitor.spec.endpoints[0].intervall: no such field in the CRD"]
    assert validate_custom_resource(scaled) == ["ScaledObject.spec.maxReplicas: no such field in the CRD"]


def test_the_built_in_check_catches_a_misplaced_field(helm: Helm):
    deployment = helm.template("minimal-values.yaml").deployment
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_the_readme_values_example_installs_as_it_is(helm: Helm, tmp_path):
    import re

    from tests.chart.helm import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploy on Kubernetes", 1)[1]
    example = re.search(r"A complete `my-values.yaml`.*?```yaml\n(.*?)```", section, re.S)
    assert example, "the README's Deploy on Kubernetes section has no values example"
    values = tmp_path / "my-values.yaml"
    values.write_text(example[1])
    r = helm.template(values)
    assert {"ScaledObject", "ServiceMonitor", "PrometheusRule", "NetworkPolicy"} <= set(r.kinds())
    for doc in r.docs:
        if known(doc):
            assert validate_custom_resource(doc) == []
        else:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
