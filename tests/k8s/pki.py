"""The cluster's certificates, made with openssl: one CA, a serving certificate for the API
server and the kubelet, a client certificate per component (its user and groups are what RBAC
and the Node authorizer see), and the service-account signing key.

EC P-256 keys: a few milliseconds each, where RSA 2048 costs ~100 ms on this machine.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# Who each component is to the API server (CN = user, O = group).
CLIENTS = {
    "admin": ("kubernetes-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", ""),
    "scheduler": ("system:kube-scheduler", ""),
    "kubelet": ("system:node:localhost", "system:nodes"),
    "kube-proxy": ("system:kube-proxy", ""),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", "system:masters"),
    "keda": ("keda-operator", "system:masters"),
}


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {done.stderr.strip()}")


def _key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))


class PKI:
    """Everything under ``root``: ``ca``, ``serving`` (API server and kubelet), ``client(name)``
    for each of CLIENTS, ``sa_key`` / ``sa_pub``."""

    def __init__(self, root: Path, *, serving_ips: list[str], serving_names: list[str]):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ca = Pair(root / "ca.crt", root / "ca.key")
        _key(self.ca.key)
        _openssl("req", "-x509", "-new", "-key", str(self.ca.key), "-subj", "/CN=fdac-test-ca",
                 "-days", "2", "-out", str(self.ca.cert),
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
        sans = [f"IP:{ip}" for ip in serving_ips] + [f"DNS:{n}" for n in serving_names]
        self.serving = self._issue("serving", "/CN=fdac-test-serving",
                                   f"subjectAltName={','.join(sans)}", "extendedKeyUsage=serverAuth")
        self._clients = {name: self._issue(name, f"/CN={cn}" + (f"/O={group}" if group else ""),
                                           "extendedKeyUsage=clientAuth")
                         for name, (cn, group) in CLIENTS.items()}
        self.sa_key = root / "sa.key"
        self.sa_pub = root / "sa.pub"
        _key(self.sa_key)
        _openssl("pkey", "-in", str(self.sa_key), "-pubout", "-out", str(self.sa_pub))

    def client(self, name: str) -> Pair:
        return self._clients[name]

    def _issue(self, name: str, subject: str, *extensions: str) -> Pair:
        pair = Pair(self.root / f"{name}.crt", self.root / f"{name}.key")
        csr = self.root / f"{name}.csr"
        ext = self.root / f"{name}.ext"
        _key(pair.key)
        _openssl("req", "-new", "-key", str(pair.key), "-subj", subject, "-out", str(csr))
        ext.write_text("".join(f"{e}\n" for e in
                               ("basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature",
                                *extensions)))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca.cert), "-CAkey", str(self.ca.key),
                 "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(pair.cert))
        return pair
