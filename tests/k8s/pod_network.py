"""The host's side of the pod network: the real Kafka broker and Redis, each listening on the
bridge's address (the pods' gateway) as well as on 127.0.0.1, the way a pod reaches services
outside its cluster; the Freshdesk sandbox (conftest's pod_sandbox) serves HTTPS on the gateway.

The broker gets a second listener, PODS, on the gateway and advertises it there, so a client
that bootstraps through it is sent to an address it can reach; the tests' own clients keep the
127.0.0.1 listener. A pod never gets further than the host: see node.py's FORWARD rule.
"""

from __future__ import annotations

from pathlib import Path

from consumer_devtools.local_kafka import LocalKafka
from tests.fixtures.redis import RedisServer
from tests.k8s.node import GATEWAY
from tests.k8s.process import free_port

# In every test namespace: the cluster CA, which signed the sandbox's certificate; the consumer
# trusts it through SSL_CERT_FILE (the chart's extraVolumes, extraVolumeMounts and extraEnv).
TEST_CA = "fdac-test-ca"
TEST_CA_VALUES = {
    "extraVolumes": [{"name": "test-ca", "configMap": {"name": TEST_CA}}],
    "extraVolumeMounts": [{"name": "test-ca", "mountPath": "/etc/fdac-test-ca", "readOnly": True}],
    "extraEnv": [{"name": "SSL_CERT_FILE", "value": "/etc/fdac-test-ca/ca.crt"}],
}


class PodNetworkKafka(LocalKafka):
    """LocalKafka with two more listeners on the gateway: PODS (plaintext, ``pod_bootstrap``)
    and PODSASL (SASL/PLAIN, ``pod_sasl_bootstrap``, one user: SASL_USER / SASL_PASSWORD)."""

    SASL_USER = "fdac"
    SASL_PASSWORD = "fdac-secret"

    def __init__(self, workdir: Path, *, log_path: Path):
        super().__init__(workdir, log_path=log_path)
        self.pod_port = free_port()
        self.pod_bootstrap = f"{GATEWAY}:{self.pod_port}"
        self.pod_sasl_bootstrap = f"{GATEWAY}:{free_port()}"

    def _write_config(self) -> Path:
        config = super()._write_config()
        listeners = f",PODS://{self.pod_bootstrap},PODSASL://{self.pod_sasl_bootstrap}"
        extra = {"listeners": listeners, "advertised.listeners": listeners,
                 "listener.security.protocol.map": ",PODS:PLAINTEXT,PODSASL:SASL_PLAINTEXT"}
        lines = []
        for line in config.read_text().splitlines():
            key, _, value = line.partition("=")
            lines.append(f"{key}={value}{extra.get(key, '')}")
        lines += ["sasl.enabled.mechanisms=PLAIN",
                  "listener.name.podsasl.sasl.enabled.mechanisms=PLAIN",
                  "listener.name.podsasl.plain.sasl.jaas.config="
                  "org.apache.kafka.common.security.plain.PlainLoginModule required "
                  f'user_{self.SASL_USER}="{self.SASL_PASSWORD}";']
        config.write_text("\n".join(lines) + "\n")
        return config


class PodNetworkRedis(RedisServer):
    """Redis on 127.0.0.1 and the gateway: ``pod_url`` is for pods."""

    @property
    def pod_url(self) -> str:
        return f"redis://{GATEWAY}:{self.port}/0"

    def _bind(self) -> list[str]:
        # Protected mode refuses every address but loopback without a password; only pods reach
        # the gateway, and they reach nothing beyond the host.
        return ["127.0.0.1", GATEWAY, "--protected-mode", "no"]
