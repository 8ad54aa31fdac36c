"""A `helm upgrade` that changes the config rolls the pods while events keep arriving, and not one
is lost or doubled: the kubelet sends each old pod SIGTERM, the consumer drains what is on the
wire, commits and leaves the group within terminationGracePeriodSeconds, the new pods take the
partitions over, and the Redis ledger holds what was delivered.

Two replicas, six partitions, ~25 events a second from the host, the sandbox counting every
activity by its order id. Every old pod's own log and exit code are read, so a pod killed at the
end of its grace period (exit 137) instead of draining fails the test even when nothing was lost.
"""

from __future__ import annotations

import subprocess
import threading
import uuid

import pytest

from tests.k8s.cluster import Cluster
from tests.k8s.events import SteadyProducer, delivered, make_topic, order_id
from tests.k8s.process import wait_until
from tests.k8s.releases import Releases
from tests.k8s.workloads import consumer_pods, describe

pytestmark = pytest.mark.k8s

RELEASE = "roll"
RATE = 25  # events a second


class PodLog:
    """`kubectl logs --follow` of one pod, until its container ends."""

    def __init__(self, cluster: Cluster, ns: str, pod: str):
        self.pod = pod
        self.lines: list[str] = []
        self._proc = subprocess.Popen(
            [str(cluster.bin / "kubectl"), "--kubeconfig", str(cluster.kubeconfig), "logs", "--follow",
             "-n", ns, pod], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._thread = threading.Thread(target=lambda: self.lines.extend(self._proc.stdout or []),
                                        daemon=True)
        self._thread.start()

    def ended(self) -> bool:
        return self._proc.poll() is not None

    def text(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


class ExitCodes:
    """Every consumer container's exit code, as the pods' watch reports them."""

    def __init__(self, cluster: Cluster, ns: str):
        self.codes: dict[str, int] = {}
        self._proc = subprocess.Popen(
            [str(cluster.bin / "kubectl"), "--kubeconfig", str(cluster.kubeconfig), "get", "pods", "-n", ns,
             "--watch", "-l", "app.kubernetes.io/component=consumer", "-o",
             'jsonpath={.metadata.name} {.status.containerStatuses[0].state.terminated.exitCode}{"\\n"}'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._proc.stdout or []:
            parts = line.split()
            if len(parts) == 2:
                self.codes[parts[0]] = int(parts[1])

    def stop(self) -> dict[str, int]:
        self._proc.terminate()
        self._proc.wait(10)
        self._thread.join(10)
        return self.codes


def test_a_config_change_rolls_the_pods_while_events_flow_with_nothing_lost_or_doubled(
        cluster: Cluster, releases: Releases, namespace, consumer_values, pod_kafka, pod_sandbox, say):
    ns = namespace()
    topic = make_topic(pod_kafka.bootstrap, partitions=6)
    values = consumer_values(topic, f"g-{uuid.uuid4().hex[:8]}", replicaCount=2,
                             **{"autoscaling.partitions": 6})
    releases.install(RELEASE, ns, "minimal-values.yaml", wait=True, **values)
    old = [p["metadata"]["name"] for p in consumer_pods(cluster, ns, RELEASE)]
    logs = {pod: PodLog(cluster, ns, pod) for pod in old}
    exits = ExitCodes(cluster, ns)

    producer = SteadyProducer(pod_kafka.bootstrap, topic, RATE).start()
    try:
        wait_until(lambda: len(delivered(pod_sandbox)) >= 2 * RATE, 60, "events flowing before the upgrade",
                   lambda: describe(cluster, ns))
        # The change: a config value, so checksum/config changes and the pods roll one by one
        # (maxSurge 1, maxUnavailable 0), each old one SIGTERMed by the kubelet.
        releases.upgrade(RELEASE, ns, "minimal-values.yaml", wait=True,
                         **{**values, "config.processing": {"drain_timeout_s": 20, "close_timeout_s": 30,
                                                            "commit_interval_s": 2}})
        wait_until(lambda: all(log.ended() for log in logs.values()), 120, "every old pod's container ended",
                   lambda: describe(cluster, ns))
        after_roll = len(delivered(pod_sandbox))
        new = [p["metadata"]["name"] for p in consumer_pods(cluster, ns, RELEASE)]
        assert not set(new) & set(old), (old, new)
        # The new pods deliver what keeps arriving.
        wait_until(lambda: len(delivered(pod_sandbox)) >= after_roll + 2 * RATE, 60,
                   "events delivered by the new pods", lambda: describe(cluster, ns))
    finally:
        sent = producer.stop()
    wait_until(lambda: {order_id(s) for s in sent} <= set(delivered(pod_sandbox)), 120,
               f"all {len(sent)} events on the timelines",
               lambda: f"missing: {sorted({order_id(s) for s in sent} - set(delivered(pod_sandbox)))[:20]}")
    codes = exits.stop()

    counts = delivered(pod_sandbox)
    lost = [order_id(s) for s in sent if counts[order_id(s)] == 0]
    doubled = {k: n for k, n in counts.items() if n > 1}
    unknown = set(counts) - {order_id(s) for s in sent}
    say(f"ROLLOUT SUMMARY events={len(sent)} delivered={sum(counts.values())} lost={len(lost)} "
        f"doubled={len(doubled)} pods_rolled={len(old)} old_exit_codes={[codes.get(p) for p in old]}")
    assert not lost and not doubled and not unknown, (lost[:10], doubled, unknown)
    for pod, log in logs.items():
        text = log.text()
        assert "shutting down: draining in-flight work" in text and '"stopped"' in text, \
            f"{pod} did not drain and stop on SIGTERM:\n{text[-3000:]}"
        assert codes.get(pod) == 0, \
            f"{pod} exited {codes.get(pod)} (137: killed at the end of its grace period)"
