"""The node: a pod network bridge, Debian's containerd (CRI) with runc and the CNI bridge and
host-local plugins, the kubelet and kube-proxy from .ci/install-k8s.sh's build.

What this machine needs (each found the hard way, see helm/freshdesk-activity-consumer/README.md):
cgroup v1 without systemd, so the kubelet runs with `cgroupDriver: cgroupfs` and
`failCgroupV1: false`; containerd with `restrict_oom_score_adj` (runc cannot set a negative
oom_score_adj here); the node is named `localhost` and its InternalIP is the bridge's address.

The bridge is made before anything starts, so that the Kafka broker, Redis and the sandbox can
listen on its address (the pods' gateway) before the first pod exists.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

from tests.k8s.pki import PKI
from tests.k8s.process import Daemon, free_port, wait_until

BRIDGE = "fdac0"
POD_CIDR = "10.244.0.0/24"
GATEWAY = "10.244.0.1"
PAUSE_IMAGE = "localhost/fdac-pause:1"
CNI_BIN = Path("/usr/lib/cni")
RUNC = "/usr/sbin/runc"


def _run(*argv: str, check: bool = True, input: bytes | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(argv, capture_output=True, input=input, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.decode()[-2000:]}")
    return done


# Pods reach the host (the broker, Redis, the sandbox on the gateway) and each other, never
# beyond: the host forwards nothing from the bridge to another interface.
_STAY_LOCAL = ["FORWARD", "-i", BRIDGE, "!", "-o", BRIDGE, "-m", "comment", "--comment",
               "fdac test pods reach only the host", "-j", "DROP"]


def make_bridge() -> None:
    """The pods' bridge with the gateway address; the CNI bridge plugin adopts it."""
    if _run("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
    addresses = _run("ip", "-j", "addr", "show", BRIDGE).stdout.decode()
    if GATEWAY not in addresses:
        _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")
    if _run("iptables", "-C", *_STAY_LOCAL, check=False).returncode != 0:
        _run("iptables", "-I", *_STAY_LOCAL)


def remove_bridge() -> None:
    while _run("iptables", "-D", *_STAY_LOCAL, check=False).returncode == 0:
        pass
    _run("ip", "link", "del", BRIDGE, check=False)


def _remove_kubelet_chains() -> None:
    """The kubelet's own iptables chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY...), which
    `kube-proxy --cleanup` leaves: the rules that jump to them, then the chains themselves."""
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            listed = _run(tool, "-t", table, "-S", check=False).stdout.decode().splitlines()
            for rule in listed:
                words = rule.split()
                if words[:1] == ["-A"] and "-j" in words and words[words.index("-j") + 1].startswith("KUBE-"):
                    _run(tool, "-t", table, "-D", *words[1:], check=False)
            for rule in listed:
                words = rule.split()
                if words[:1] == ["-N"] and words[1].startswith("KUBE-"):
                    _run(tool, "-t", table, "-F", words[1], check=False)
                    _run(tool, "-t", table, "-X", words[1], check=False)


def _remove_kubelet_cgroups() -> None:
    """The kubelet's kubepods cgroups (cgroupfs driver), deepest first; each is empty once the
    containers are gone, and rmdir refuses one that is not."""
    for top in Path("/sys/fs/cgroup").glob("*/kubepods"):
        groups = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for group in [*groups, top]:
            with contextlib.suppress(OSError):
                group.rmdir()


class Node:
    def __init__(self, bin_dir: Path, root: Path, pki: PKI, kubeconfigs: dict[str, Path]):
        self.bin = bin_dir
        self.root = root
        self.pki = pki
        self.kubeconfigs = kubeconfigs
        self.socket = root / "containerd" / "containerd.sock"
        self.daemons: list[Daemon] = []

    # -- containerd ---------------------------------------------------------------------------
    def _containerd_config(self) -> Path:
        c = self.root / "containerd"
        c.mkdir(parents=True, exist_ok=True)
        cni = self.root / "cni"
        (cni / "net.d").mkdir(parents=True, exist_ok=True)
        (cni / "net.d" / "10-fdac.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": "fdac-pods",
            "plugins": [{
                "type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
                "hairpinMode": True,
                "ipam": {"type": "host-local", "dataDir": str(cni / "ipam"),
                         "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                         "routes": [{"dst": "0.0.0.0/0"}]},
            }, {"type": "portmap", "capabilities": {"portMappings": True}}],
        }))
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = c / "config.toml"
        config.write_text(f"""version = 2
root = "{c / 'root'}"
state = "{c / 'state'}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{c / 'opt'}"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # runc fails with "can't get final child's PID from pipe" on a negative oom_score_adj here.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{cni / 'net.d'}"
""")
        return config

    def ctr(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        return _run("ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args,
                    input=input, check=check).stdout.decode()

    def start_containerd(self) -> None:
        daemon = Daemon("containerd", ["containerd", "--config", str(self._containerd_config())],
                        self.root / "logs" / "containerd.log")
        self.daemons.append(daemon.start())

        def serving() -> bool:
            daemon.check_alive()
            plugins = self.ctr("plugins", "ls")
            return any(line.split()[:2] == ["io.containerd.grpc.v1", "cri"] and line.split()[-1] == "ok"
                       for line in plugins.splitlines())
        wait_until(serving, 60, "containerd: the CRI plugin ok", daemon.log_tail)

    def import_image(self, archive: Path) -> None:
        """A docker-archive (podman save) into the node's image store, as a registry pull would."""
        with open(archive, "rb") as data:
            done = subprocess.run(["ctr", "--address", str(self.socket), "--namespace", "k8s.io",
                                   "images", "import", "-"], stdin=data, capture_output=True,
                                  timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"ctr images import {archive}: {done.stderr.decode()[-2000:]}")

    def images(self) -> list[str]:
        return self.ctr("images", "ls", "-q").split()

    # -- kubelet and kube-proxy ---------------------------------------------------------------
    def start_kubelet(self) -> Daemon:
        port, healthz = free_port(), free_port()
        self.kubelet_port = port
        kubelet_dir = self.root / "kubelet"
        kubelet_dir.mkdir(parents=True, exist_ok=True)
        config = kubelet_dir / "config.json"
        config.write_text(json.dumps({
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": "127.0.0.1", "port": port, "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": healthz,
            "tlsCertFile": str(self.pki.serving.cert), "tlsPrivateKeyFile": str(self.pki.serving.key),
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(self.pki.ca.cert)}},
            "authorization": {"mode": "Webhook"},
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            # This machine: cgroup v1, no systemd.
            "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False,
            "cgroupRoot": "/", "cgroupsPerQOS": True,
            # No cluster DNS, and no name server of the host's: a pod resolves nothing, so the
            # ci values' example hosts are never looked up outside this machine.
            "clusterDomain": "cluster.local", "resolvConf": "",
            # A shared machine's disk: evict nothing, collect no image, whatever else fills it.
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                             "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False, "maxPods": 60,
            "volumePluginDir": str(kubelet_dir / "volume-plugins"),
            "podLogsDir": str(kubelet_dir / "pod-logs"),
            "registerNode": True, "rotateCertificates": False,
            "nodeStatusUpdateFrequency": "4s",
            "syncFrequency": "10s", "fileCheckFrequency": "10s",
            "shutdownGracePeriod": "0s",
        }))
        daemon = Daemon("kubelet", [
            str(self.bin / "kubelet"), "--config", str(config),
            "--kubeconfig", str(self.kubeconfigs["kubelet"]),
            "--root-dir", str(kubelet_dir / "root"), "--cert-dir", str(kubelet_dir / "pki"),
            "--hostname-override", "localhost", "--node-ip", GATEWAY, "--v", "1",
        ], self.root / "logs" / "kubelet.log")
        self.daemons.append(daemon.start())
        return daemon

    def start_kube_proxy(self) -> Daemon:
        self.proxy_healthz = free_port()
        daemon = Daemon("kube-proxy", [
            str(self.bin / "kube-proxy"), "--kubeconfig", str(self.kubeconfigs["kube-proxy"]),
            "--hostname-override", "localhost", "--proxy-mode", "iptables",
            "--cluster-cidr", POD_CIDR,
            # A pod reaching a Service whose endpoint is on the same bridge: masquerade, so the
            # answer comes back through the host's NAT and not around it.
            "--masquerade-all",
            # Leave the machine's sysctls alone: no conntrack table resize, no route_localnet.
            "--conntrack-max-per-core", "0", "--iptables-localhost-nodeports=false",
            "--healthz-bind-address", f"127.0.0.1:{self.proxy_healthz}",
            "--metrics-bind-address", f"127.0.0.1:{free_port()}",
        ], self.root / "logs" / "kube-proxy.log")
        self.daemons.append(daemon.start())
        return daemon

    # -- teardown -----------------------------------------------------------------------------
    def tasks(self) -> list[str]:
        return [line.split()[0] for line in self.ctr("tasks", "ls", check=False).splitlines()[1:]
                if line.strip()]

    def _netns_paths(self) -> set[str]:
        """The network namespaces of this node's pod sandboxes (from their OCI specs)."""
        paths = set()
        for container in self.ctr("containers", "ls", "-q", check=False).split():
            with contextlib.suppress(ValueError, KeyError):
                spec = json.loads(self.ctr("containers", "info", container, check=False))["Spec"]
                paths |= {ns["path"] for ns in spec["linux"]["namespaces"]
                          if ns.get("type") == "network" and ns.get("path")}
        return paths

    def stop(self) -> None:
        """Stop every daemon. The cluster deletes the pods first (the kubelet stops their
        sandboxes, the CNI plugin releases their addresses); whatever is left is killed here, and
        mounts, network namespaces and kube-proxy's iptables chains are undone."""
        for name in ("kube-proxy", "kubelet"):
            for daemon in [d for d in self.daemons if d.name == name]:
                daemon.stop()
        containerd = [d for d in self.daemons if d.name == "containerd"]
        netns: set[str] = set()
        if containerd and containerd[0].alive:
            netns = self._netns_paths()
            for task in self.tasks():
                self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: not self.tasks(), 30, "containers gone")
            for task in self.tasks():
                self.ctr("tasks", "delete", "--force", task, check=False)
            containerd[0].stop()
        self.daemons.clear()
        _run(str(self.bin / "kube-proxy"), "--cleanup", check=False)
        _remove_kubelet_chains()
        _remove_kubelet_cgroups()
        self._unmount_all()
        for path in netns:  # only our sandboxes' namespaces, never another tool's cni-*
            if Path(path).exists():
                _run("umount", path, check=False)
                Path(path).unlink(missing_ok=True)

    def _unmount_all(self) -> None:
        """Lazy unmounts, deepest first, of whatever is still mounted under the node's root."""
        prefix = str(self.root)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(prefix)]
        for mount in sorted(mounts, key=len, reverse=True):
            _run("umount", "-l", mount, check=False)
