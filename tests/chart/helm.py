"""Render the chart with the project's helm (``.ci/install-helm.sh``) and read what it made."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "freshdesk-activity-consumer"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
INSTALL_HINT = ("helm is not installed: run .ci/install-helm.sh (builds helm v4.3.2 from the Go "
                "module helm.sh/helm/v4/cmd/helm into ~/.cache/freshdesk-activity-consumer) and "
                "export HELM=<the path it prints>, or put helm v4 on PATH")


def find_helm() -> str | None:
    """$HELM, else the project's cached build, else a helm on PATH."""
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    built = sorted((cache / "freshdesk-activity-consumer").glob("helm-v4.*/helm"))
    if built:
        return str(built[-1])
    return shutil.which("helm")


@dataclass
class Rendered:
    docs: list[dict[str, Any]]

    def kinds(self) -> list[str]:
        return [d["kind"] for d in self.docs]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name_suffix: str = "") -> dict[str, Any]:
        found = [d for d in self.all(kind) if d["metadata"]["name"].endswith(name_suffix)]
        assert len(found) == 1, f"expected one {kind}*{name_suffix}, found {len(found)}"
        return found[0]

    def has(self, kind: str) -> bool:
        return bool(self.all(kind))

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def pod(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]

    @property
    def container(self) -> dict[str, Any]:
        return self.pod["spec"]["containers"][0]

    @property
    def subscription_file(self) -> dict[str, Any]:
        cm = [c for c in self.all("ConfigMap") if "subscriptions.yaml" in c["data"]]
        assert len(cm) == 1
        return yaml.safe_load(cm[0]["data"]["subscriptions.yaml"])

    def env_names(self) -> list[str]:
        return [e["name"] for e in self.container.get("env", [])]


class Helm:
    def __init__(self, binary: str):
        self.binary = binary

    def _run(self, *args: str, values: tuple[Path | str, ...] = (),
             sets: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, *args]
        for v in values:
            cmd += ["--values", str(CHART / "ci" / v) if isinstance(v, str) else str(v)]
        for key, value in (sets or {}).items():
            # --set-json keeps types (numbers stay numbers, null is null).
            cmd += ["--set-json", f"{key}={json.dumps(value)}"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)

    def template(self, *values: Path | str, release: str = "fdac", **sets: Any) -> Rendered:
        result = self._run("template", release, str(CHART), "--namespace", "activities",
                           values=values, sets=_keys(sets))
        assert result.returncode == 0, result.stderr
        return Rendered([d for d in yaml.safe_load_all(result.stdout) if d])

    def template_error(self, *values: Path | str, **sets: Any) -> str:
        """The render must fail: returns helm's error text."""
        result = self._run("template", "fdac", str(CHART), values=values, sets=_keys(sets))
        assert result.returncode != 0, "the render was expected to fail but succeeded"
        return " ".join(result.stderr.split())

    def notes(self, *values: Path | str, **sets: Any) -> str:
        result = self._run("install", "fdac", str(CHART), "--dry-run=client", "--namespace",
                           "activities", values=values, sets=_keys(sets))
        assert result.returncode == 0, result.stderr
        return result.stdout.split("NOTES:", 1)[1]

    def lint(self, *values: Path | str) -> subprocess.CompletedProcess[str]:
        return self._run("lint", "--strict", str(CHART), values=values)


def _keys(sets: dict[str, Any]) -> dict[str, Any]:
    """Python keyword names → helm paths: ``config__kafka`` is ``config.kafka``; a literal dot in
    a key is written ``\\.``."""
    return {k.replace("__", "."): v for k, v in sets.items()}
