"""The control plane, as real processes on 127.0.0.1: etcd, kube-apiserver,
kube-controller-manager and kube-scheduler from .ci/install-k8s.sh's build.

Each is ready on a positive signal: etcd's /health says true, the API server's /readyz says ok,
the controller manager has made the `default` ServiceAccount (its service-account and token
controllers run), the scheduler's /healthz says ok.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from tests.k8s.pki import PKI, Pair
from tests.k8s.process import Daemon, free_port, wait_until

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"  # the `kubernetes` Service: the first address of SERVICE_CIDR


def kubeconfig(path: Path, server: str, ca: Path, client: Pair) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "fdac",
        "clusters": [{"name": "fdac", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": "fdac", "user": {"client-certificate": str(client.cert),
                                             "client-key": str(client.key)}}],
        "contexts": [{"name": "fdac", "context": {"cluster": "fdac", "user": "fdac"}}],
    }))
    return path


class ControlPlane:
    def __init__(self, bin_dir: Path, root: Path, pki: PKI, advertise_ip: str):
        self.bin = bin_dir
        self.root = root
        self.pki = pki
        self.advertise_ip = advertise_ip
        self.etcd_port = free_port()
        self.api_port = free_port()
        self.server = f"https://127.0.0.1:{self.api_port}"
        self.daemons: list[Daemon] = []
        self.kubeconfigs = {name: kubeconfig(root / f"{name}.kubeconfig", self.server, pki.ca.cert,
                                             pki.client(name))
                            for name in ("admin", "controller-manager", "scheduler", "kubelet",
                                         "kube-proxy", "keda")}

    def _daemon(self, name: str, *args: str) -> Daemon:
        binary = "etcd" if name == "etcd" else name
        daemon = Daemon(name, [str(self.bin / binary), *args], self.root / "logs" / f"{name}.log")
        self.daemons.append(daemon.start())
        return daemon

    def _wait(self, daemon: Daemon, check: Any, what: str, timeout: float = 120) -> None:
        def ready() -> Any:
            daemon.check_alive()
            return check()
        wait_until(ready, timeout, f"{daemon.name}: {what}", daemon.log_tail)

    def start(self) -> None:
        pki = self.pki
        peer = free_port()
        etcd = self._daemon(
            "etcd", "--name", "fdac", "--data-dir", str(self.root / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"fdac=http://127.0.0.1:{peer}",
            # A test cluster's data dies with it: no fsync waits on a busy shared disk.
            "--unsafe-no-fsync", "--log-level", "warn")
        self._wait(etcd, lambda: json.loads(get_text(f"http://127.0.0.1:{self.etcd_port}/health"))
                   ["health"] == "true", "/health true")

        apiserver = self._daemon(
            "kube-apiserver",
            "--etcd-servers", f"http://127.0.0.1:{self.etcd_port}",
            "--bind-address", "127.0.0.1", "--secure-port", str(self.api_port),
            "--advertise-address", self.advertise_ip,
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--client-ca-file", str(pki.ca.cert),
            "--tls-cert-file", str(pki.serving.cert), "--tls-private-key-file", str(pki.serving.key),
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(pki.sa_pub),
            "--service-account-signing-key-file", str(pki.sa_key),
            "--authorization-mode", "Node,RBAC",
            "--kubelet-client-certificate", str(pki.client("apiserver-kubelet-client").cert),
            "--kubelet-client-key", str(pki.client("apiserver-kubelet-client").key),
            "--kubelet-certificate-authority", str(pki.ca.cert),
            # The node is named localhost: its InternalIP is the pod network's gateway, and the
            # kubelet listens on loopback, which the API server reaches by that name.
            "--kubelet-preferred-address-types", "Hostname",
            "--enable-admission-plugins", "NodeRestriction",
            "--allow-privileged=false", "--profiling=false",
            "--event-ttl", "30m")
        admin = self.pki.client("admin")
        self._wait(apiserver, lambda: get_text(f"{self.server}/readyz", pki.ca.cert, admin) == "ok",
                   "/readyz ok")

        cm_port = free_port()
        cm = self._daemon(
            "kube-controller-manager",
            "--kubeconfig", str(self.kubeconfigs["controller-manager"]),
            "--authentication-kubeconfig", str(self.kubeconfigs["controller-manager"]),
            "--authorization-kubeconfig", str(self.kubeconfigs["controller-manager"]),
            "--bind-address", "127.0.0.1", "--secure-port", str(cm_port),
            "--leader-elect=false", "--use-service-account-credentials=true",
            "--service-account-private-key-file", str(pki.sa_key),
            "--root-ca-file", str(pki.ca.cert),
            "--cluster-signing-cert-file", str(pki.ca.cert),
            "--cluster-signing-key-file", str(pki.ca.key),
            "--service-cluster-ip-range", SERVICE_CIDR,
            # The HPA controller's loop (15 s by default) sets how soon an autoscaler acts.
            "--horizontal-pod-autoscaler-sync-period", "5s")
        self._wait(cm, lambda: self.get("/api/v1/namespaces/default/serviceaccounts/default"),
                   "the default ServiceAccount made")

        sched_port = free_port()
        scheduler = self._daemon(
            "kube-scheduler",
            "--kubeconfig", str(self.kubeconfigs["scheduler"]),
            "--authentication-kubeconfig", str(self.kubeconfigs["scheduler"]),
            "--authorization-kubeconfig", str(self.kubeconfigs["scheduler"]),
            "--bind-address", "127.0.0.1", "--secure-port", str(sched_port),
            "--leader-elect=false")
        self._wait(scheduler, lambda: get_text(f"https://127.0.0.1:{sched_port}/healthz") == "ok",
                   "/healthz ok")

    def get(self, path: str) -> dict[str, Any]:
        """GET an API path as the admin; raises on an HTTP error (404 included)."""
        return json.loads(get_text(f"{self.server}{path}", self.pki.ca.cert, self.pki.client("admin")))

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()
        self.daemons.clear()


def get_text(url: str, ca: Path | None = None, client: Pair | None = None) -> str:
    if url.startswith("https"):
        context = ssl.create_default_context(cafile=str(ca)) if ca else ssl._create_unverified_context()
        if client:
            context.load_cert_chain(str(client.cert), str(client.key))
    else:
        context = None
    with urllib.request.urlopen(url, timeout=5, context=context) as answer:
        return answer.read().decode()
