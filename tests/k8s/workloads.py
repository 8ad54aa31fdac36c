"""What the cluster says about a release's Deployment and pods, and a watch that records every
spec.replicas the API server held while a test ran."""

from __future__ import annotations

import subprocess
import threading
from typing import Any

from tests.k8s.cluster import Cluster


def deployment(cluster: Cluster, ns: str, release: str) -> dict[str, Any]:
    found = cluster.get_json("deployments", "-n", ns, "-l", f"app.kubernetes.io/instance={release}")["items"]
    assert len(found) == 1, [d["metadata"]["name"] for d in found]
    return found[0]


def consumer_pods(cluster: Cluster, ns: str, release: str,
                  template_hash: str | None = None) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/component=consumer"
    if template_hash:
        selector += f",pod-template-hash={template_hash}"
    return cluster.get_json("pods", "-n", ns, "-l", selector)["items"]


def started(pod: dict[str, Any]) -> bool:
    return any(s.get("started") for s in pod["status"].get("containerStatuses", []))


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def newest_template_hash(cluster: Cluster, ns: str, dep: dict[str, Any]) -> str:
    """The pod-template-hash of the Deployment's newest ReplicaSet."""
    sets = cluster.get_json("replicasets", "-n", ns)["items"]
    mine = [r for r in sets if any(o["uid"] == dep["metadata"]["uid"]
                                   for o in r["metadata"].get("ownerReferences", []))]
    newest = max(mine, key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
    return newest["metadata"]["labels"]["pod-template-hash"]


def describe(cluster: Cluster, ns: str) -> str:
    """The namespace's workloads and events, and the last log lines of each of its pods."""
    out = [cluster.kubectl("get", "deployments,replicasets,pods,hpa,events", "-n", ns, "-o", "wide",
                           check=False)]
    for pod in cluster.kubectl("get", "pods", "-n", ns, "-o", "name", check=False).split():
        out.append(f"--- {pod}:\n" + cluster.kubectl("logs", "-n", ns, pod, "--tail=25", check=False))
    return "\n".join(out)


class ReplicaWatch:
    """`kubectl get deployment --watch`: every spec.replicas the API server stored, in order."""

    def __init__(self, cluster: Cluster, ns: str, name: str):
        self.seen: list[int] = []
        self._proc = subprocess.Popen(
            [str(cluster.bin / "kubectl"), "--kubeconfig", str(cluster.kubeconfig), "get", "deployment",
             name, "-n", ns, "--watch", "--output-watch-events=false",
             "-o", "jsonpath={.metadata.resourceVersion} {.spec.replicas}{\"\\n\"}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            parts = line.split()
            if len(parts) == 2:
                self.seen.append(int(parts[1]))

    def stop(self) -> list[int]:
        self._proc.terminate()
        self._proc.wait(10)
        self._thread.join(10)
        return self.seen
