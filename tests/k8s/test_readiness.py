"""Readiness as the kubelet sees it on a real node: false while the consumer cannot do its work
(the broker unreachable, the Kafka password wrong, the Freshdesk key refused), true again once
that is fixed, so an operator's dashboard is not green while nothing flows.

"False" is shown by the kubelet's own probes: the pod is not Ready, and the kubelet's counter of
failed readiness probes (prober_probe_total on its /metrics/probes) goes up FAILED_PROBES times
with no Ready pod in between. (Its Unhealthy events cannot count them: the kubelet's event
spam filter drops an object's events after the first 25.)
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.k8s.cluster import Cluster
from tests.k8s.events import delivered, make_topic, order_id, produce_orders
from tests.k8s.node import BRIDGE
from tests.k8s.process import wait_until
from tests.k8s.releases import Releases
from tests.k8s.workloads import consumer_pods, describe, ready

pytestmark = pytest.mark.k8s

# Readiness probes (1 s apart here) that must fail, with the pod never Ready, before "stays
# false" is believed: longer than the ~20 s after which the consumer once went Ready regardless.
FAILED_PROBES = 30


def failed_readiness_probes(cluster: Cluster, ns: str, pod: str) -> int:
    """The kubelet's count of failed readiness probes of the pod's container."""
    metrics = cluster.kubelet_get("/metrics/probes")
    wanted = ('prober_probe_total{', f'namespace="{ns}"', f'pod="{pod}"', 'probe_type="Readiness"',
              'result="failed"')
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in metrics.splitlines()
               if all(w in line for w in wanted))


def the_pod(cluster: Cluster, ns: str, release: str) -> dict[str, Any]:
    pods = [p for p in consumer_pods(cluster, ns, release) if not p["metadata"].get("deletionTimestamp")]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


def stays_unready(cluster: Cluster, ns: str, release: str, why: str) -> None:
    """From now on, the pod is never Ready while the kubelet's probes fail FAILED_PROBES times."""
    name = the_pod(cluster, ns, release)["metadata"]["name"]
    before = failed_readiness_probes(cluster, ns, name)

    def check() -> int | str:
        pod = the_pod(cluster, ns, release)
        assert pod["metadata"]["name"] == name, "the pod was replaced"
        if ready(pod):
            return "ready"
        failures = failed_readiness_probes(cluster, ns, name) - before
        return failures if failures >= FAILED_PROBES else 0
    outcome = wait_until(check, 180, f"{FAILED_PROBES} failed readiness probes ({why})",
                         lambda: describe(cluster, ns))
    assert outcome != "ready", f"the pod went Ready although {why}:\n{describe(cluster, ns)}"


def becomes(cluster: Cluster, ns: str, release: str, want: bool, why: str, timeout: float = 120) -> None:
    wait_until(lambda: ready(the_pod(cluster, ns, release)) == want, timeout,
               f"the pod {'Ready' if want else 'not Ready'} ({why})", lambda: describe(cluster, ns))


@contextmanager
def broker_unreachable_from_pods(port: int) -> Iterator[None]:
    """Every packet from the pod network to the broker's port answered with a reset."""
    rule = ["INPUT", "-i", BRIDGE, "-p", "tcp", "--dport", str(port), "-j", "REJECT",
            "--reject-with", "tcp-reset"]
    subprocess.run(["iptables", "-I", *rule], check=True)
    try:
        yield
    finally:
        subprocess.run(["iptables", "-D", *rule], check=True)


def test_readiness_is_false_while_the_broker_is_unreachable_and_true_once_it_is_back(
        cluster: Cluster, releases: Releases, namespace, consumer_values, pod_kafka):
    ns = namespace()
    topic = make_topic(pod_kafka.bootstrap, partitions=3)
    releases.install("broker", ns, "minimal-values.yaml", wait=True,
                     **consumer_values(topic, f"g-{uuid.uuid4().hex[:8]}", replicaCount=1))
    with broker_unreachable_from_pods(pod_kafka.pod_port):
        becomes(cluster, ns, "broker", False, "the broker unreachable")
    becomes(cluster, ns, "broker", True, "the broker reachable again")


def test_readiness_is_false_with_a_wrong_kafka_password_and_true_after_the_fix(
        cluster: Cluster, releases: Releases, namespace, consumer_values, pod_kafka):
    ns = namespace()
    topic = make_topic(pod_kafka.bootstrap, partitions=3)
    group = f"g-{uuid.uuid4().hex[:8]}"
    values = consumer_values(topic, group, replicaCount=1, **{
        "config.kafka": {"bootstrap.servers": pod_kafka.pod_sasl_bootstrap, "group.id": group,
                         "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN"},
        "secret.kafkaSasl": True, "secret.kafkaSaslUsername": pod_kafka.SASL_USER,
        "secret.kafkaSaslPassword": "not-the-password"})
    releases.install("sasl", ns, "minimal-values.yaml", **values)
    stays_unready(cluster, ns, "sasl", "the broker refuses the Kafka password")
    # The fix: the right password in the Secret; checksum/secret rolls the pod.
    releases.upgrade("sasl", ns, "minimal-values.yaml", wait=True,
                     **{**values, "secret.kafkaSaslPassword": pod_kafka.SASL_PASSWORD})
    becomes(cluster, ns, "sasl", True, "the right Kafka password")


def test_readiness_is_false_while_freshdesk_refuses_the_key_and_true_once_it_takes_it(
        cluster: Cluster, releases: Releases, namespace, consumer_values, pod_kafka, pod_sandbox):
    ns = namespace()
    topic = make_topic(pod_kafka.bootstrap, partitions=3)
    pod_sandbox.set_api_keys(["a-key-of-another-account"])
    releases.install("key", ns, "minimal-values.yaml",
                     **consumer_values(topic, f"g-{uuid.uuid4().hex[:8]}", replicaCount=1))
    produce_orders(pod_kafka.bootstrap, topic, [1])  # the first post meets the 401
    wait_until(lambda: any(r.get("status") == 401 for r in pod_sandbox.requests()), 120,
               "the sandbox answered 401", lambda: describe(cluster, ns))
    becomes(cluster, ns, "key", False, "Freshdesk answered 401 to the API key")
    stays_unready(cluster, ns, "key", "Freshdesk answers 401 to the API key")
    assert not delivered(pod_sandbox)
    # The fix, on the account's side: the key is valid now; the halt probe finds out.
    pod_sandbox.set_api_keys(["sandbox-key"])
    becomes(cluster, ns, "key", True, "Freshdesk takes the key")
    wait_until(lambda: delivered(pod_sandbox) == {order_id(1): 1}, 60, "the held event delivered")
