"""A real one-node Kubernetes cluster for tests: the control plane (control_plane.py) and a real
node (node.py), certificates from pki.py, binaries and CRDs from .ci/install-k8s.sh.

    cluster = Cluster(bin_dir, root).start()   # ~10-12 s on 2 cores once built
    cluster.kubectl("get", "nodes")
    cluster.load_image("localhost/freshdesk-activity-consumer:ci")   # podman save | ctr import
    cluster.stop()

Every process is tied to the test run (PR_SET_PDEATHSIG). stop() deletes the pods first, so the
kubelet stops their sandboxes as it would on a node drain, then stops everything, deletes the
bridge and kube-proxy's iptables chains.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

from tests.k8s.control_plane import SERVICE_IP, ControlPlane, get_text
from tests.k8s.node import GATEWAY, PAUSE_IMAGE, Node, make_bridge, remove_bridge
from tests.k8s.pki import PKI
from tests.k8s.process import wait_until

ROOT = Path(__file__).resolve().parents[2]
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]


def install_k8s() -> Path:
    """$K8S_BIN when the Makefile built it already, else .ci/install-k8s.sh (cached)."""
    if os.environ.get("K8S_BIN"):
        return Path(os.environ["K8S_BIN"])
    done = subprocess.run(["bash", str(ROOT / ".ci" / "install-k8s.sh")], capture_output=True,
                          text=True, timeout=3600, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f".ci/install-k8s.sh failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class Cluster:
    def __init__(self, bin_dir: Path, root: Path):
        self.bin = bin_dir
        self.root = root
        self.timings: dict[str, float] = {}
        self.control_plane: ControlPlane | None = None
        self.node: Node | None = None

    @property
    def pki(self) -> PKI:
        assert self.control_plane is not None
        return self.control_plane.pki

    @property
    def kubeconfig(self) -> Path:
        assert self.control_plane is not None
        return self.control_plane.kubeconfigs["admin"]

    def _timed(self, phase: str, began: float) -> None:
        self.timings[phase] = round(time.monotonic() - began, 1)

    def start(self) -> Cluster:
        began = time.monotonic()
        make_bridge()
        pki = PKI(self.root / "pki", serving_ips=["127.0.0.1", GATEWAY, SERVICE_IP],
                  serving_names=["localhost", "kubernetes", "kubernetes.default",
                                 "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"])
        self.control_plane = ControlPlane(self.bin, self.root, pki, GATEWAY)
        self.control_plane.start()
        self._timed("control plane ready", began)
        self.node = Node(self.bin, self.root, pki, self.control_plane.kubeconfigs)
        self.node.start_containerd()
        self.load_pause_image()
        kubelet = self.node.start_kubelet()
        wait_until(lambda: (kubelet.check_alive(), self.node_ready())[1], 120,
                   "kubelet: node localhost Ready", kubelet.log_tail)
        self._timed("node ready", began)
        proxy = self.node.start_kube_proxy()
        wait_until(lambda: (proxy.check_alive(), self._proxy_synced())[1], 60,
                   "kube-proxy: /healthz 200 (rules synced)", proxy.log_tail)
        self.apply_crds()
        self._timed("cluster ready", began)
        return self

    # -- readiness ----------------------------------------------------------------------------
    def node_ready(self) -> bool:
        assert self.control_plane is not None
        node = self.control_plane.get("/api/v1/nodes/localhost")
        return any(c["type"] == "Ready" and c["status"] == "True"
                   for c in node["status"].get("conditions", []))

    def _proxy_synced(self) -> bool:
        import urllib.request
        assert self.node is not None
        url = f"http://127.0.0.1:{self.node.proxy_healthz}/healthz"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=5) as answer:
            return answer.status == 200

    def apply_crds(self) -> None:
        """The real CRDs (Prometheus Operator, KEDA) the chart's custom objects are checked by."""
        crds = sorted((self.bin.parent / "crds").glob("*.yaml"))
        assert len(crds) == 4, f"expected 4 CRD manifests in {self.bin.parent / 'crds'}, found {crds}"
        for crd in crds:
            self.kubectl("apply", "--server-side", "-f", str(crd))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     *[f"crd/{c.name.split('_', 1)[1].removesuffix('.yaml')}.{c.name.split('_')[0]}"
                       for c in crds])

    # -- tools --------------------------------------------------------------------------------
    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120) -> str:
        done = subprocess.run([str(self.bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
                              capture_output=True, text=True, input=input, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def kubelet_get(self, path: str) -> str:
        """GET from the kubelet's own server, e.g. /metrics/probes (the API server's node proxy
        refuses a node at a loopback address), as the admin: the kubelet asks the API server."""
        assert self.node is not None and self.control_plane is not None
        return get_text(f"https://127.0.0.1:{self.node.kubelet_port}{path}", self.pki.ca.cert,
                    self.pki.client("admin"))

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", "-o", "json", *args))

    def load_image(self, ref: str) -> None:
        """A podman image onto the node, as a registry pull would put it there."""
        assert self.node is not None
        archive = self.root / "images" / (ref.replace("/", "_").replace(":", "_") + ".tar")
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.unlink(missing_ok=True)
        subprocess.run([*PODMAN, "save", "--format", "docker-archive", "-o", str(archive), ref],
                       check=True, capture_output=True, timeout=600)
        self.node.import_image(archive)
        archive.unlink()

    def load_pause_image(self) -> None:
        """The pod sandbox image: the install script's static `pause`, alone in an image."""
        layer = self.root / "images" / "pause-rootfs.tar"
        layer.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(layer, "w") as tar:
            tar.add(self.bin / "pause", arcname="pause")
        subprocess.run([*PODMAN, "import", "--change", 'ENTRYPOINT ["/pause"]', str(layer), PAUSE_IMAGE],
                       check=True, capture_output=True, timeout=120)
        self.load_image(PAUSE_IMAGE)

    def logs(self) -> str:
        """Every component's log path, for a failing test's report."""
        return "\n".join(str(p) for p in sorted((self.root / "logs").glob("*.log")))

    # -- teardown -----------------------------------------------------------------------------
    def stop(self) -> None:
        if self.node is not None and self.control_plane is not None:
            with contextlib.suppress(Exception):
                # As a node drain would: the kubelet kills the containers and the CNI plugin
                # releases each sandbox's network.
                self.kubectl("delete", "pods", "--all", "--all-namespaces", "--force",
                             "--grace-period=0", "--wait=false", timeout=60)
                wait_until(lambda: not self.node.tasks(), 60, "every pod's containers stopped")
        if self.node is not None:
            self.node.stop()
        if self.control_plane is not None:
            self.control_plane.stop()
        remove_bridge()
