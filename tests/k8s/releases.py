"""helm against the real cluster: install, upgrade, rollback, test, uninstall of the chart, and
what a release left behind.

The image is always the one built by .ci/build-image.sh and copied onto the node; everything
else comes from the values files and ``sets`` (helm paths, values kept typed by --set-json).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.chart.helm import CHART
from tests.k8s.cluster import Cluster
from tests.k8s.workloads import describe

# What every namespace has without any release (made by the control plane).
_BUILT_IN = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}


class Releases:
    def __init__(self, helm: str, cluster: Cluster, image: str, home: Path):
        self.helm = helm
        self.cluster = cluster
        repository, _, tag = image.rpartition(":")
        self.image = {"image.repository": repository, "image.tag": tag, "image.digest": "",
                      "image.pullPolicy": "IfNotPresent"}
        home.mkdir(parents=True, exist_ok=True)
        self.env = {"KUBECONFIG": str(cluster.kubeconfig), "HELM_CACHE_HOME": str(home / "cache"),
                    "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data"),
                    "PATH": "/usr/bin:/bin", "HOME": str(home)}

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.helm, *args], capture_output=True, text=True, env=self.env,
                              timeout=timeout)
        if check and done.returncode != 0:
            where = args[args.index("--namespace") + 1] if "--namespace" in args else None
            raise AssertionError(f"helm {' '.join(args[:3])}: exit {done.returncode}\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n"
                                 f"{self.diagnose(where) if where else ''}")
        return done

    def diagnose(self, namespace: str) -> str:
        return describe(self.cluster, namespace)

    def _values(self, values: tuple[Path | str, ...], sets: dict[str, Any]) -> list[str]:
        args: list[str] = []
        for v in values:
            args += ["--values", str(CHART / "ci" / v) if isinstance(v, str) else str(v)]
        for key, value in {**self.image, **sets}.items():
            args += ["--set-json", f"{key}={json.dumps(value)}"]
        return args

    def install(self, name: str, namespace: str, *values: Path | str, wait: bool = False,
                **sets: Any) -> subprocess.CompletedProcess[str]:
        return self.run("install", name, str(CHART), "--namespace", namespace,
                        *(["--wait", "--timeout", "5m"] if wait else []),
                        *self._values(values, _keys(sets)))

    def upgrade(self, name: str, namespace: str, *values: Path | str, wait: bool = False,
                **sets: Any) -> subprocess.CompletedProcess[str]:
        return self.run("upgrade", name, str(CHART), "--namespace", namespace,
                        *(["--wait", "--timeout", "5m"] if wait else []),
                        *self._values(values, _keys(sets)))

    def rollback(self, name: str, namespace: str, revision: int) -> subprocess.CompletedProcess[str]:
        return self.run("rollback", name, str(revision), "--namespace", namespace)

    def uninstall(self, name: str, namespace: str) -> subprocess.CompletedProcess[str]:
        return self.run("uninstall", name, "--namespace", namespace, "--wait", "--timeout", "5m")

    def test(self, name: str, namespace: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("test", name, "--namespace", namespace, "--timeout", "5m", check=check)

    def history(self, name: str, namespace: str) -> list[dict[str, Any]]:
        return json.loads(self.run("history", name, "--namespace", namespace, "-o", "json").stdout)

    def left_behind(self, namespace: str, made_by_test: frozenset[str] = frozenset()) -> list[str]:
        """Every namespaced object (``Kind/name``) in ``namespace`` that neither a fresh namespace
        nor the test itself (``made_by_test``) has."""
        kinds = self.cluster.kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name").split()
        kinds = [k for k in kinds if k not in ("events", "events.events.k8s.io")]
        found = self.cluster.get_json(",".join(kinds), "--namespace", namespace)["items"]
        return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in found
                      if (o["kind"], o["metadata"]["name"]) not in _BUILT_IN
                      and f"{o['kind']}/{o['metadata']['name']}" not in made_by_test)


def _keys(sets: dict[str, Any]) -> dict[str, Any]:
    """Keyword names to helm paths: ``config__kafka`` is ``config.kafka``; a key that is already
    a helm path (given as ``**{"a.b": 1}``) is kept."""
    return {k.replace("__", "."): v for k, v in sets.items()}
