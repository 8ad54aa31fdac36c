"""Turning an autoscaler on or off on a running release never lowers its replica count.

The defect this proves fixed, seen on a real cluster: the Deployment left spec.replicas out
when an autoscaler was on, so the upgrade that turned the HPA on took a release from 5 replicas
to 1 (helm removed the field it had set, the API server defaulted it), and only then did the
HPA raise it to its minimum: a scale-down and a rebalance on a config change. The chart now
renders the live count (lookup) while an autoscaler owns it, and on the upgrade that turns it
off the larger of that and replicaCount.

A watch on the Deployment records every spec.replicas the API server stored in between.
"""

from __future__ import annotations

import uuid

import pytest

from tests.k8s.cluster import Cluster
from tests.k8s.events import make_topic
from tests.k8s.process import wait_until
from tests.k8s.releases import Releases
from tests.k8s.workloads import ReplicaWatch, deployment, describe

pytestmark = pytest.mark.k8s

RELEASE = "scaled"
RUNNING = 3


def test_switching_hpa_and_keda_on_and_off_never_lowers_the_running_replica_count(
        cluster: Cluster, releases: Releases, namespace, consumer_values, pod_kafka):
    ns = namespace()
    topic = make_topic(pod_kafka.bootstrap, partitions=6)
    base = consumer_values(topic, f"g-{uuid.uuid4().hex[:8]}", **{
        "replicaCount": RUNNING, "autoscaling.partitions": 6,
        # Minimums below the running count: an autoscaler has no reason to go down to them
        # (no metrics server here, so the HPA holds what it finds), the defect went to 1.
        "autoscaling.hpa.minReplicas": 1, "autoscaling.hpa.maxReplicas": 6,
        "autoscaling.keda.minReplicaCount": 1, "autoscaling.keda.maxReplicaCount": 6})
    releases.install(RELEASE, ns, "minimal-values.yaml", **base)
    name = deployment(cluster, ns, RELEASE)["metadata"]["name"]
    watch = ReplicaWatch(cluster, ns, name)
    try:
        releases.upgrade(RELEASE, ns, "minimal-values.yaml", **{**base, "autoscaling.hpa.enabled": True})
        # The HPA controller has read the Deployment's scale: what it found is what it keeps.
        hpa = wait_until(lambda: cluster.get_json("hpa", name, "-n", ns)["status"].get("currentReplicas"),
                         120, "the HPA's status.currentReplicas", lambda: describe(cluster, ns))
        assert hpa == RUNNING, describe(cluster, ns)
        assert deployment(cluster, ns, RELEASE)["spec"]["replicas"] == RUNNING

        # Off again, with a replicaCount below what runs: the switch keeps what runs.
        releases.upgrade(RELEASE, ns, "minimal-values.yaml", **{**base, "replicaCount": 2})
        assert deployment(cluster, ns, RELEASE)["spec"]["replicas"] == RUNNING
        assert not cluster.get_json("hpa", "-n", ns)["items"], "the HPA was not removed"

        releases.upgrade(RELEASE, ns, "minimal-values.yaml", **{**base, "autoscaling.keda.enabled": True})
        assert cluster.get_json("scaledobjects", "-n", ns)["items"], "no ScaledObject"
        assert deployment(cluster, ns, RELEASE)["spec"]["replicas"] == RUNNING

        releases.upgrade(RELEASE, ns, "minimal-values.yaml", **{**base, "replicaCount": 2})
        assert deployment(cluster, ns, RELEASE)["spec"]["replicas"] == RUNNING
    finally:
        seen = watch.stop()
    assert seen and min(seen) == RUNNING, f"spec.replicas went {seen}"
    # The next upgrade with autoscaling off applies replicaCount, as asked.
    releases.upgrade(RELEASE, ns, "minimal-values.yaml", **{**base, "replicaCount": 2})
    assert deployment(cluster, ns, RELEASE)["spec"]["replicas"] == 2
