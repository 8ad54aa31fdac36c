"""Every ci/*-values.yaml on the real API server and kubelet, in a namespace that enforces
PodSecurity `restricted`: it installs and its pods start, an upgrade that changes the config
rolls them, a rollback brings the first template back, and uninstall leaves nothing behind.

Only the image is changed (the project's, on the node); each file's config stays as it is, so
its pods point at brokers that do not exist here: they start, and whether they are ready is
tests/k8s/test_readiness.py's question, not this one's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.helm import CI_VALUES
from tests.k8s.cluster import Cluster
from tests.k8s.pod_network import TEST_CA
from tests.k8s.process import wait_until
from tests.k8s.releases import Releases
from tests.k8s.workloads import consumer_pods, deployment, describe, newest_template_hash, started

pytestmark = pytest.mark.k8s

RELEASE = "ci"
# existing-secret-values.yaml names a Secret made outside the chart, with its own keys.
EXISTING_SECRET = {"name": "freshdesk-activity-consumer-credentials",
                   "data": {"api-key": "ci-freshdesk-api-key", "redis-url": "redis://redis.redis.svc:6379/0"}}


@pytest.mark.parametrize("values", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_ci_values_install_upgrade_roll_back_and_uninstall_in_a_restricted_namespace(
        cluster: Cluster, releases: Releases, namespace, values: Path):
    ns = namespace()
    if values.name == "existing-secret-values.yaml":
        cluster.kubectl("create", "secret", "generic", EXISTING_SECRET["name"], "-n", ns,
                        *[f"--from-literal={k}={v}" for k, v in EXISTING_SECRET["data"].items()])

    installed = releases.install(RELEASE, ns, values)
    assert "violate PodSecurity" not in installed.stderr, installed.stderr
    dep = deployment(cluster, ns, RELEASE)
    replicas = dep["spec"]["replicas"]
    wait_until(lambda: len([p for p in consumer_pods(cluster, ns, RELEASE) if started(p)]) >= replicas,
               180, f"{values.name}: {replicas} pods started", lambda: describe(cluster, ns))
    first_checksum = dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    # A changed config rolls the pods: a new ReplicaSet whose pods start.
    upgraded = releases.upgrade(RELEASE, ns, values, config__log={"format": "json", "level": "DEBUG"})
    assert "violate PodSecurity" not in upgraded.stderr, upgraded.stderr
    dep = deployment(cluster, ns, RELEASE)
    assert dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != first_checksum
    rolled = newest_template_hash(cluster, ns, dep)
    wait_until(lambda: [p for p in consumer_pods(cluster, ns, RELEASE, rolled) if started(p)], 180,
               f"{values.name}: a pod of the new template started", lambda: describe(cluster, ns))

    releases.rollback(RELEASE, ns, 1)
    dep = deployment(cluster, ns, RELEASE)
    assert dep["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == first_checksum
    assert [h["status"] for h in releases.history(RELEASE, ns)] == ["superseded", "superseded", "deployed"]

    releases.uninstall(RELEASE, ns)
    # The pods go last (garbage-collected after their ReplicaSets, each after its drain).
    ours = frozenset({f"ConfigMap/{TEST_CA}", f"Secret/{EXISTING_SECRET['name']}"})
    wait_until(lambda: not releases.left_behind(ns, ours), 150,
               f"{values.name}: nothing left after uninstall",
               lambda: "left: " + ", ".join(releases.left_behind(ns, ours)))
