"""Fixtures for the chart on a real cluster: one cluster per test session (a real API server, a
real kubelet on containerd), the project's image on its node, the real broker, Redis and the
Freshdesk sandbox on the pod network, and a PodSecurity `restricted` namespace per test.

What they need is installed by `make test` (.ci/install-test-tools.sh, .ci/install-k8s.sh,
.ci/install-helm.sh, .ci/build-image.sh). In CI a missing piece fails the tests; elsewhere they
are skipped with the reason, as tests/chart and tests/container do.
"""

from __future__ import annotations

import os
import shutil
import ssl
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from consumer_devtools.local_kafka import ensure_kafka_jars
from consumer_devtools.sandbox import SandboxServer, SandboxSettings
from tests.chart.helm import INSTALL_HINT as HELM_HINT
from tests.chart.helm import find_helm
from tests.container.podman import build_image
from tests.k8s.cluster import Cluster, install_k8s
from tests.k8s.node import GATEWAY
from tests.k8s.pod_network import TEST_CA, TEST_CA_VALUES, PodNetworkKafka, PodNetworkRedis
from tests.k8s.releases import Releases

_NEEDS = {"containerd": "containerd", "ctr": "containerd", "runc": "runc", "podman": "podman",
          "iptables": "iptables", "openssl": "openssl", "redis-server": "redis-server"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "k8s: runs on the real cluster of tests/k8s (.ci/install-k8s.sh)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A pod rolled on a busy 2-core machine takes its time; the first test also starts the
    # cluster and copies the image onto the node.
    for item in items:
        if item.get_closest_marker("k8s"):
            item.add_marker(pytest.mark.timeout(900))


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _tell(config: pytest.Config, line: str) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if capture is None or reporter is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        _missing("tests/k8s run a kubelet and containerd, which need root (CI runs as root)")
    absent = sorted({pkg for tool, pkg in _NEEDS.items() if shutil.which(tool) is None})
    if absent:
        _missing(f"tests/k8s need {', '.join(absent)} from Debian: run .ci/install-test-tools.sh")
    # A short root: containerd's socket path must stay under 108 bytes.
    root = tmp_path_factory.mktemp("k8s", numbered=True)
    cluster = Cluster(install_k8s(), root)
    try:
        cluster.start()
        _tell(request.config, f"k8s: cluster up, {cluster.timings} (logs in {root / 'logs'})")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def consumer_image(cluster: Cluster) -> str:
    """The project's image (.ci/build-image.sh), on the node as a registry pull would leave it."""
    image = build_image()
    cluster.load_image(image)
    return image


@pytest.fixture(scope="session")
def releases(cluster: Cluster, consumer_image: str, tmp_path_factory: pytest.TempPathFactory) -> Releases:
    helm = find_helm()
    if helm is None or not os.access(helm, os.X_OK):
        _missing(HELM_HINT)
    return Releases(helm, cluster, consumer_image, tmp_path_factory.mktemp("helm-home"))


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[Callable[[], str]]:
    """``namespace()`` makes a namespace that enforces PodSecurity `restricted`; all are deleted
    (without waiting) at the end of the test."""
    made: list[str] = []

    def make() -> str:
        name = f"t-{uuid.uuid4().hex[:8]}"
        labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
        labels.update({f"pod-security.kubernetes.io/{mode}-version": "latest"
                       for mode in ("enforce", "warn", "audit")})
        cluster.kubectl("create", "namespace", name)
        cluster.kubectl("label", "namespace", name, *[f"{k}={v}" for k, v in labels.items()])
        cluster.kubectl("create", "configmap", TEST_CA, "-n", name,
                        f"--from-file=ca.crt={cluster.pki.ca.cert}")
        made.append(name)
        return name

    yield make
    for name in made:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def pod_kafka(request: pytest.FixtureRequest, cluster: Cluster,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodNetworkKafka]:
    """The real broker, reachable from pods at ``pod_bootstrap`` (the gateway)."""
    ensure_kafka_jars(progress=lambda line: _tell(request.config, line))
    root = tmp_path_factory.mktemp("pod-kafka")
    broker = PodNetworkKafka(root / "work", log_path=root / "broker.log")
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def pod_redis(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodNetworkRedis]:
    """Redis (the shared ledger) reachable from pods at ``pod_url``."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server: checked by the cluster fixture"
    server = PodNetworkRedis(binary, tmp_path_factory.mktemp("pod-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pod_sandbox(cluster: Cluster, tmp_path: Path) -> Iterator[SandboxServer]:
    """The Freshdesk sandbox on the gateway, over HTTPS with the cluster CA's serving
    certificate (the consumer takes plain http only from 127.0.0.1; pods trust the CA through
    TEST_CA_VALUES); key `sandbox-key`, no rate limit to speak of."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(cluster.pki.serving.cert), str(cluster.pki.serving.key))
    server = SandboxServer(SandboxSettings(db_path=str(tmp_path / "sandbox.db"), seed=1,
                                           rate_limit=1_000_000), host=GATEWAY, ssl_context=tls).start()
    yield server
    server.stop()


@pytest.fixture
def consumer_values(pod_kafka: PodNetworkKafka, pod_redis: PodNetworkRedis,
                    pod_sandbox: SandboxServer) -> Callable[..., dict[str, Any]]:
    """``consumer_values(topic, group)``: --set-json values that point the chart's pods at the
    real broker, the sandbox and Redis on the pod network, with probes quick enough for tests.
    Redis is emptied first: the tests' events reuse ids (order 1, 2...), and a ledger that
    remembers another test's deliveries would skip this test's posts."""
    pod_redis.flush()

    def values(topic: str, group: str, **more: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "config.kafka": {"bootstrap.servers": pod_kafka.pod_bootstrap, "group.id": group},
            "config.freshdesk": {"base_url": pod_sandbox.base_url, "halt_probe_interval_s": 2},
            "config.subscriptions": [{"topic": topic, "transform": "orders"}],
            "config.log": {"format": "json", "level": "INFO"},
            "secret.freshdeskApiKey": "sandbox-key",
            "secret.ledgerRedisUrl": pod_redis.pod_url,
            "readinessProbe": {"initialDelaySeconds": 1, "periodSeconds": 1, "timeoutSeconds": 1,
                               "failureThreshold": 1},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"cpu": "1", "memory": "512Mi"}},
            **TEST_CA_VALUES,
        }
        return {**base, **more}

    return values


@pytest.fixture
def say(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``say(line)``: a summary line in the run's output, past pytest's capture (CI logs keep it)."""
    return lambda line: _tell(request.config, line)
