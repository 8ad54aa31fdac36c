"""The chart and the consumer agree: the rendered subscription file passes `check-config` with the
Secret's variables set, the schema knows exactly the config keys the consumer knows, and the
chart deploys the package's own version."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from consumer.config import Config
from tests.chart.helm import CHART, CI_VALUES, ROOT, Helm, Rendered

# Keys of the subscription file the chart owns itself: secrets (the contact directory uses the
# ledger's Redis URL, contacts.url left out; so does the budget's), and the server the probes need.
CHART_OWNED = {"freshdesk.api_key", "freshdesk.budget.url", "ledger.url", "contacts.url",
               "metrics.enabled", "metrics.host"}


def _pod_environment(r: Rendered) -> dict[str, str]:
    """The container's environment as Kubernetes would set it: from the chart's Secret, or for an
    existing Secret, a stand-in value per key it names."""
    secrets = {s["metadata"]["name"]: s["data"] for s in r.all("Secret")}
    env = {}
    for e in r.container["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        ref = e["valueFrom"]["secretKeyRef"]
        if ref["name"] in secrets:
            env[e["name"]] = base64.b64decode(secrets[ref["name"]][ref["key"]]).decode()
        else:  # an existing Secret: not ours to read; any well-formed value will do
            env[e["name"]] = "redis://redis:6379/0" if "REDIS" in e["name"] else "stand-in-secret"
    return env


@pytest.mark.helm
@pytest.mark.parametrize("values", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_the_rendered_subscription_file_passes_check_config(helm: Helm, values: Path, tmp_path):
    r = helm.template(values)
    config_map = next(c for c in r.all("ConfigMap") if "subscriptions.yaml" in c["data"])
    path = tmp_path / "subscriptions.yaml"
    path.write_text(config_map["data"]["subscriptions.yaml"])
    _mount_code(r, tmp_path)  # as the projected volume lays them out beside the file
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRESHDESK", "LEDGER", "KAFKA"))}
    env["PYTHONPATH"] = f"{ROOT}:{tmp_path / 'modules'}"  # as the chart sets it in the pod
    pod_env = {**_pod_environment(r), "PYTHONPATH": env["PYTHONPATH"]}  # not the pod's path
    result = subprocess.run([sys.executable, "-m", "consumer", "check-config", str(path)],
                            env={**env, **pod_env}, capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{path}: OK" in result.stdout
    for secret in _pod_environment(r).values():
        if secret != "/tmp":  # TMPDIR, the one plain value
            assert secret not in result.stdout + result.stderr


def _mount_code(r: Any, into: Path) -> None:
    """The mappings and transform modules ConfigMap, where the pod's projected volume puts it."""
    deployment = r.one("Deployment")
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    maps = {c["metadata"]["name"]: c["data"] for c in r.all("ConfigMap")}
    for source in volume["projected"]["sources"]:
        data = maps[source["configMap"]["name"]]
        for item in source["configMap"].get("items", []):
            (into / item["path"]).parent.mkdir(parents=True, exist_ok=True)
            (into / item["path"]).write_text(data[item["key"]])


@pytest.mark.helm
def test_without_the_secret_variables_check_config_names_them(helm: Helm, tmp_path):
    r = helm.template("all-features-values.yaml")
    path = tmp_path / "subscriptions.yaml"
    path.write_text(next(c for c in r.all("ConfigMap")
                         if "subscriptions.yaml" in c["data"])["data"]["subscriptions.yaml"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRESHDESK", "LEDGER", "KAFKA"))}
    result = subprocess.run([sys.executable, "-m", "consumer", "check-config", str(path)], env=env,
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    for name in ("FRESHDESK_API_KEY", "LEDGER_REDIS_URL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        assert f"environment variable {name} is not set" in result.stderr


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"  # as the file spells it (basic.auth.user.info)
        keys.add(path)
        for sub in (field.annotation, *typing.get_args(field.annotation)):  # X | None too
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                keys |= _model_keys(sub, path + ".")
    return keys


def _schema_keys(schema: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        keys.add(path)
        if path != "kafka" and sub.get("type") == "object":  # kafka: librdkafka's own keys
            keys |= _schema_keys(sub, path + ".")
        elif sub.get("type") == "array" and isinstance(sub.get("items"), dict):  # subscriptions
            keys |= _schema_keys(sub["items"], path + ".")
    return keys


def test_the_schema_knows_exactly_the_consumers_config_keys():
    schema = json.loads((CHART / "values.schema.json").read_text())
    in_chart = _schema_keys(schema["properties"]["config"])
    in_consumer = _model_keys(Config) - CHART_OWNED
    assert in_chart == in_consumer, (
        f"only in the chart's schema: {sorted(in_chart - in_consumer)}; "
        f"only in consumer/config.py: {sorted(in_consumer - in_chart)}")


def test_every_section_of_the_default_config_is_valid_for_the_consumer():
    values = yaml.safe_load((CHART / "values.yaml").read_text())["config"]
    secrets = {"freshdesk": {"api_key": "k"}, "ledger": {"url": "redis://r:6379/0"}}
    doc = {k: ({**v, **secrets.get(k, {})} if isinstance(v, dict) else v) for k, v in values.items()}
    Config.model_validate(doc)


def test_the_chart_the_image_and_the_package_have_one_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    assert f"ARG VERSION={version}" in (ROOT / "Dockerfile").read_text()
