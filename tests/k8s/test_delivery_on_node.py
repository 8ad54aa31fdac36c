"""The project's image as a real pod on a real kubelet, installed by the chart into a
`restricted` namespace, consumes from the real broker and puts activities on the sandbox's
timelines, both reached across the pod network on the host; and `helm test` proves it (and fails
when the activities are not there)."""

from __future__ import annotations

import uuid

import pytest

from tests.k8s.cluster import Cluster
from tests.k8s.events import delivered, make_topic, order_id, produce_orders
from tests.k8s.process import wait_until
from tests.k8s.releases import Releases
from tests.k8s.workloads import describe

pytestmark = pytest.mark.k8s

RELEASE = "deliver"
EVENTS = 30


def test_the_pod_delivers_activities_from_the_real_broker_and_helm_test_proves_it(
        cluster: Cluster, releases: Releases, namespace, consumer_values, pod_kafka, pod_sandbox):
    ns = namespace()
    topic = make_topic(pod_kafka.bootstrap, partitions=3)
    values = consumer_values(topic, f"g-{uuid.uuid4().hex[:8]}", replicaCount=1,
                             **{"helmTest.minActivitiesDelivered": EVENTS, "helmTest.timeoutSeconds": 120})
    releases.install(RELEASE, ns, "minimal-values.yaml", wait=True, **values)

    produce_orders(pod_kafka.bootstrap, topic, range(1, EVENTS + 1))
    wait_until(lambda: len(delivered(pod_sandbox)) == EVENTS, 120, f"{EVENTS} activities on the timelines",
               lambda: describe(cluster, ns))
    assert delivered(pod_sandbox) == {order_id(i): 1 for i in range(1, EVENTS + 1)}

    tested = releases.test(RELEASE, ns)
    assert "Phase: Succeeded" in " ".join(tested.stdout.split()), tested.stdout

    # The same test fails when the activities it asks for are not there (values only: no roll).
    asking_more = {"helmTest.minActivitiesDelivered": EVENTS + 1, "helmTest.timeoutSeconds": 3}
    releases.upgrade(RELEASE, ns, "minimal-values.yaml", **{**values, **asking_more})
    failed = releases.test(RELEASE, ns, check=False)
    assert failed.returncode != 0, failed.stdout
    pod = cluster.get_json("pods", "-n", ns, "-l", "app.kubernetes.io/component=helm-test")["items"]
    log = cluster.kubectl("logs", "-n", ns, pod[0]["metadata"]["name"])
    assert "FAILED after 3s: readyz " in log, log
    assert f", {EVENTS} activities delivered (want {EVENTS + 1})" in log, log
