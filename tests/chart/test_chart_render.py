"""What the chart renders, branch by branch: every toggle both ways, and the rules it enforces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.chart.helm import Helm, Rendered

pytestmark = pytest.mark.helm

MINIMAL = "minimal-values.yaml"

# (name, values that turn it on, values that turn it off, what "on" looks like)
Toggle = tuple[str, dict[str, Any], dict[str, Any], Callable[[Rendered], bool]]
TOGGLES: list[Toggle] = [
    ("serviceAccount.create", {"serviceAccount.create": True}, {"serviceAccount.create": False},
     lambda r: r.has("ServiceAccount")
     and r.pod["spec"]["serviceAccountName"] == r.one("ServiceAccount")["metadata"]["name"]),
    ("secret.existingSecret", {"secret.existingSecret": "creds"}, {"secret.existingSecret": ""},
     lambda r: not r.has("Secret") and all(
         e["valueFrom"]["secretKeyRef"]["name"] == "creds"
         for e in r.container["env"] if "valueFrom" in e)),
    ("secret.kafkaSasl",
     {"secret.kafkaSasl": True, "secret.kafkaSaslUsername": "u", "secret.kafkaSaslPassword": "p"},
     {"secret.kafkaSasl": False},
     lambda r: {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} <= set(r.env_names())
     and r.subscription_file["kafka"]["sasl.password"] == "${KAFKA_SASL_PASSWORD}"),
    ("podDisruptionBudget.enabled", {"podDisruptionBudget.enabled": True},
     {"podDisruptionBudget.enabled": False}, lambda r: r.has("PodDisruptionBudget")),
    ("topologySpread.enabled", {"topologySpread.enabled": True}, {"topologySpread.enabled": False},
     lambda r: "topologySpreadConstraints" in r.pod["spec"]),
    ("autoscaling.keda.enabled",
     {"autoscaling.keda.enabled": True, "autoscaling.partitions": 6},
     {"autoscaling.keda.enabled": False},
     # No cluster to look the live count up in (helm template): the minimum (fdac.replicas).
     lambda r: r.has("ScaledObject") and r.deployment["spec"]["replicas"] == 1),
    ("autoscaling.keda.sasl",
     {"autoscaling.keda.enabled": True, "autoscaling.partitions": 6,
      "autoscaling.keda.sasl": "scram_sha512", "secret.kafkaSasl": True,
      "secret.kafkaSaslUsername": "u", "secret.kafkaSaslPassword": "p"},
     {"autoscaling.keda.enabled": True, "autoscaling.partitions": 6},
     lambda r: r.has("TriggerAuthentication")
     and r.one("ScaledObject")["spec"]["triggers"][0]["metadata"]["sasl"] == "scram_sha512"),
    ("autoscaling.hpa.enabled",
     {"autoscaling.hpa.enabled": True, "autoscaling.partitions": 6},
     {"autoscaling.hpa.enabled": False},
     lambda r: r.has("HorizontalPodAutoscaler") and r.deployment["spec"]["replicas"] == 1),
    ("serviceMonitor.enabled", {"serviceMonitor.enabled": True}, {"serviceMonitor.enabled": False},
     lambda r: r.has("ServiceMonitor")),
    ("prometheusRule.enabled", {"prometheusRule.enabled": True}, {"prometheusRule.enabled": False},
     lambda r: r.has("PrometheusRule")),
    ("dashboard.enabled", {"dashboard.enabled": True}, {"dashboard.enabled": False},
     lambda r: any(c["metadata"]["name"].endswith("-dashboard") for c in r.all("ConfigMap"))),
    ("networkPolicy.enabled", {"networkPolicy.enabled": True}, {"networkPolicy.enabled": False},
     lambda r: r.has("NetworkPolicy")),
    ("config.ledger.backend memory",
     {"config.ledger.backend": "memory", "acknowledgeMemoryLedgerForgetsOnRestart": True},
     {"config.ledger.backend": "redis"},
     lambda r: "LEDGER_REDIS_URL" not in r.env_names()
     and r.subscription_file["ledger"] == {"backend": "memory"}),
    ("helmTest.enabled", {"helmTest.enabled": True}, {"helmTest.enabled": False},
     lambda r: r.has("Pod") and r.one("Pod", "-test")["metadata"]["annotations"]["helm.sh/hook"] == "test"
     and r.one("Pod", "-test")["spec"]["containers"][0]["securityContext"] == r.container["securityContext"]),
    ("image.digest", {"image.digest": "sha256:" + "ab" * 32}, {"image.digest": ""},
     lambda r: r.container["image"] == "freshdesk-activity-consumer@sha256:" + "ab" * 32),
]


@pytest.mark.parametrize("toggle", TOGGLES, ids=[t[0] for t in TOGGLES])
def test_each_toggle_renders_its_objects_only_when_on(helm: Helm, toggle: Toggle):
    _, on, off, looks_on = toggle
    assert looks_on(helm.template(MINIMAL, **_sets(on))), "on: its objects are missing"
    assert not looks_on(helm.template(MINIMAL, **_sets(off))), "off: its objects are still there"


def _sets(values: dict[str, Any]) -> dict[str, Any]:
    return {k.replace(".", "__"): v for k, v in values.items()}


def test_the_defaults_are_secure_and_probe_the_metrics_server(helm: Helm):
    r = helm.template(MINIMAL)
    pod, c = r.pod["spec"], r.container
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert r.one("ServiceAccount")["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]
    assert r.deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert c["image"] == "freshdesk-activity-consumer:0.1.0"


def test_the_subscription_file_refers_to_secrets_and_never_holds_them(helm: Helm):
    r = helm.template(MINIMAL)
    sub = r.subscription_file
    assert sub["freshdesk"]["api_key"] == "${FRESHDESK_API_KEY}"
    assert sub["ledger"] == {"backend": "redis", "url": "${LEDGER_REDIS_URL}"}
    assert sub["metrics"]["enabled"] is True and sub["metrics"]["host"] == "0.0.0.0"
    configmap_text = str(r.all("ConfigMap"))
    assert "ci-freshdesk-api-key" not in configmap_text and "ci-redis-password" not in configmap_text


def test_a_base_url_replaces_the_default_domain(helm: Helm):
    freshdesk = helm.template(MINIMAL, config__freshdesk__base_url="https://acme.example.com").subscription_file["freshdesk"]
    assert freshdesk == {"base_url": "https://acme.example.com", "api_key": "${FRESHDESK_API_KEY}"}


def test_a_config_change_rolls_the_pods_and_a_secret_change_too(helm: Helm):
    def checksums(**sets: Any) -> tuple[str, str]:
        annotations = helm.template(MINIMAL, **sets).pod["metadata"]["annotations"]
        return annotations["checksum/config"], annotations["checksum/secret"]

    config, secret = checksums()
    assert checksums() == (config, secret), "the same values give the same checksums"
    new_config, same_secret = checksums(config__processing__max_pending_messages=500)
    assert new_config != config and same_secret == secret
    same_config, new_secret = checksums(secret__freshdeskApiKey="rotated-key")
    assert same_config == config and new_secret != secret
    assert checksums(image__tag="0.2.0", replicaCount=5) == (config, secret), \
        "values outside the ConfigMap and Secret do not change them"


@pytest.mark.parametrize("mistake", [
    {"replicaCont": 3},
    {"config.freshdesk.api_key": "plain-text-key"},
    {"config.kafka.sasl\\.password": "plain-text"},
    {"config.processing.drain_timout_s": 10},
    {"serviceMonitor.enabeld": True},
    {"autoscaling.keda.maxReplicaCount": "3"},
])
def test_the_schema_refuses_a_mistyped_or_secret_key(helm: Helm, mistake: dict[str, Any]):
    error = helm.template_error(MINIMAL, **{k.replace(".", "__").replace("\\__", "\\."): v
                                             for k, v in mistake.items()})
    assert "values don't meet the specifications of the schema" in error, error


@pytest.mark.parametrize(("processing", "expected"), [
    ({}, 20 + 30 + 10),
    ({"drain_timeout_s": 25, "close_timeout_s": 20}, 25 + 20 + 10),
    ({"drain_timeout_s": 12.5, "close_timeout_s": 10}, 33),  # rounded up, never down
])
def test_the_grace_period_covers_drain_close_and_a_margin(helm: Helm, processing, expected):
    sets = {f"config__processing__{k}": v for k, v in processing.items()}
    r = helm.template(MINIMAL, config__processing=None, **sets) if not processing else \
        helm.template(MINIMAL, **sets)
    assert r.pod["spec"]["terminationGracePeriodSeconds"] == expected


def test_a_grace_period_override_above_the_minimum_is_kept(helm: Helm):
    r = helm.template(MINIMAL, terminationGracePeriodSeconds=120)
    assert r.pod["spec"]["terminationGracePeriodSeconds"] == 120


def test_a_grace_period_below_drain_plus_close_fails_the_render(helm: Helm):
    error = helm.template_error(MINIMAL, terminationGracePeriodSeconds=30)
    assert "terminationGracePeriodSeconds 30 is below processing.drain_timeout_s + " \
           "processing.close_timeout_s + gracePeriodMarginSeconds = 60" in error
    assert "at least 60" in error


@pytest.mark.parametrize(("autoscaler", "max_key"), [("keda", "maxReplicaCount"), ("hpa", "maxReplicas")])
def test_autoscaling_never_goes_above_the_partition_count(helm: Helm, autoscaler, max_key):
    on = {f"autoscaling__{autoscaler}__enabled": True, "autoscaling__partitions": 12}
    r = helm.template(MINIMAL, **on, **{f"autoscaling__{autoscaler}__{max_key}": 12})
    assert r.has("ScaledObject" if autoscaler == "keda" else "HorizontalPodAutoscaler")
    error = helm.template_error(MINIMAL, **on, **{f"autoscaling__{autoscaler}__{max_key}": 13})
    assert f"autoscaling.{autoscaler}.{max_key} is 13 but the subscribed topics have 12 " \
           "partitions" in error
    assert f"Lower autoscaling.{autoscaler}.{max_key} to at most 12" in error


def test_autoscaling_needs_the_partition_count(helm: Helm):
    error = helm.template_error(MINIMAL, autoscaling__keda__enabled=True)
    assert "autoscaling.partitions is not set" in error


def test_keda_and_hpa_together_fail_the_render(helm: Helm):
    error = helm.template_error(MINIMAL, autoscaling__partitions=6,
                                autoscaling__keda__enabled=True, autoscaling__hpa__enabled=True)
    assert "both on: two autoscalers would fight" in error


def test_keda_reads_the_lag_of_the_consumers_own_group(helm: Helm):
    r = helm.template("all-features-values.yaml")
    trigger = r.one("ScaledObject")["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == r.subscription_file["kafka"]["group.id"]
    assert trigger["metadata"]["bootstrapServers"] == r.subscription_file["kafka"]["bootstrap.servers"]
    assert r.one("ScaledObject")["spec"]["maxReplicaCount"] == 12
    assert trigger["authenticationRef"]["name"] == r.one("TriggerAuthentication")["metadata"]["name"]


def test_the_memory_ledger_is_refused_without_the_acknowledgement(helm: Helm):
    error = helm.template_error(MINIMAL, config__ledger__backend="memory")
    assert "config.ledger.backend is memory: the memory ledger forgets every delivery" in error
    assert "acknowledgeMemoryLedgerForgetsOnRestart: true" in error


def test_the_acknowledged_memory_ledger_renders_with_a_warning_in_the_notes(helm: Helm):
    notes = helm.notes("memory-ledger-values.yaml")
    assert "WARNING: config.ledger.backend is memory" in notes
    assert "200000 keys at about 230 bytes each" in notes and "~46 MB" in notes
    assert "WARNING" not in helm.notes(MINIMAL)
    assert "AOF" in helm.notes(MINIMAL)


def test_the_notes_say_how_to_see_the_traffic_and_what_ready_means(helm: Helm):
    notes = helm.notes(MINIMAL)
    assert "port-forward service/fdac-freshdesk-activity-consumer 9102:9102" in notes
    assert "activity_consumer_activities_delivered_total" in notes
    assert "A replica that owns no partition is ready" in notes


def test_the_prometheus_rule_and_the_dashboard_are_the_chart_files_themselves(helm: Helm):
    import json

    import yaml

    from tests.chart.helm import CHART

    r = helm.template(MINIMAL, prometheusRule__enabled=True, dashboard__enabled=True)
    rules = yaml.safe_load((CHART / "alerts" / "activity-consumer-rules.yaml").read_text())
    assert r.one("PrometheusRule")["spec"]["groups"] == rules["groups"]
    dashboard = r.one("ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["activity-consumer.json"]) == json.loads(
        (CHART / "dashboards" / "activity-consumer.json").read_text())


def test_the_network_policy_allows_dns_kafka_redis_freshdesk_and_the_scraper(helm: Helm):
    policy = helm.template("all-features-values.yaml").one("NetworkPolicy")["spec"]
    egress_ports = [sorted((p["port"], p["protocol"]) for p in rule["ports"]) for rule in policy["egress"]]
    assert egress_ports == [[(53, "TCP"), (53, "UDP")], [(9096, "TCP")], [(6380, "TCP")], [(443, "TCP")]]
    assert policy["ingress"][0]["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    memory = helm.template(MINIMAL, networkPolicy__enabled=True, config__ledger__backend="memory",
                           acknowledgeMemoryLedgerForgetsOnRestart=True).one("NetworkPolicy")
    assert len(memory["spec"]["egress"]) == 3, "no Redis rule without Redis"


def test_long_release_names_are_cut_to_a_dns_label(helm: Helm):
    release = "a-release-name-as-long-as-helm-allows-fifty-three-cha"  # 53, helm's limit
    r = helm.template("all-features-values.yaml", release=release)
    assert all(len(d["metadata"]["name"]) <= 63 for d in r.docs)
    assert r.one("ConfigMap", "-dashboard")


def test_the_egress_proxy_reaches_the_pods_as_the_environment_every_client_reads(helm: Helm):
    env = {e["name"]: e for e in helm.template(
        MINIMAL, proxy__https="http://egress:3128", proxy__noProxy=".svc").pod["spec"][
            "containers"][0]["env"]}
    assert env["HTTPS_PROXY"]["value"] == env["https_proxy"]["value"] == "http://egress:3128"
    assert env["NO_PROXY"]["value"] == env["no_proxy"]["value"] == ".svc"
    assert "HTTP_PROXY" not in env
    secret = {e["name"]: e for e in helm.template(
        MINIMAL, proxy__existingSecret__name="egress", proxy__existingSecret__key="url").pod[
            "spec"]["containers"][0]["env"]}
    assert secret["HTTPS_PROXY"]["valueFrom"] == {"secretKeyRef": {"name": "egress", "key": "url"}}
    assert all("value" not in secret[n] for n in ("HTTPS_PROXY", "HTTP_PROXY"))


def test_mappings_and_modules_from_values_are_mounted_beside_the_file_and_roll_the_pods(helm: Helm):
    plain = helm.template(MINIMAL)
    assert len(plain.all("ConfigMap")) == 1, "no code: no second ConfigMap"
    r = helm.template(MINIMAL, **{"mappings__orders\\.jsonata": '{"key": id}'})
    code = next(c for c in r.all("ConfigMap") if c["metadata"]["name"].endswith("-code"))
    assert code["data"] == {"orders.jsonata": '{"key": id}\n'}
    volume = next(v for v in r.pod["spec"]["volumes"] if v["name"] == "config")
    items = volume["projected"]["sources"][1]["configMap"]["items"]
    assert items == [{"key": "orders.jsonata", "path": "mappings/orders.jsonata"}]
    changed = helm.template(MINIMAL, **{"mappings__orders\\.jsonata": '{"key": number}'})
    sums = [x.pod["metadata"]["annotations"]["checksum/code"] for x in (r, changed, plain)]
    assert len(set(sums)) == 3, "a changed mapping rolls the pods"


@pytest.mark.parametrize(("memory", "expected"), [
    ("512Mi", 64 * 1024 * 1024), ("1Gi", 128 * 1024 * 1024), ("2G", 250_000_000),
    ("4194304", 1024 * 1024)])
def test_memory_in_bytes_follows_the_pods_memory_limit(helm: Helm, memory: str, expected: int):
    processing = helm.template(MINIMAL, resources__limits__memory=memory).subscription_file[
        "processing"]
    assert processing["max_pending_bytes"] == expected


def test_memory_in_bytes_from_values_wins_over_the_limit(helm: Helm):
    processing = helm.template(MINIMAL, config__processing__max_pending_bytes=10_000_000
                               ).subscription_file["processing"]
    assert processing["max_pending_bytes"] == 10_000_000
