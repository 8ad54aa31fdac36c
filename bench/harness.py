"""What the benches of ``python -m bench`` stand on: a broker, sinks, a sandbox, the consumer as a
process, and reading a process's CPU and peak memory from /proc (the peer bench's methods).

Everything runs on 127.0.0.1 in processes of its own, started by the harness and stopped by it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition

from bench.sink import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 6
_T0 = time.monotonic()


def progress(message: str) -> None:
    """One line on stderr, with the seconds since the harness started."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def elapsed() -> float:
    return time.monotonic() - _T0


# --- /proc --------------------------------------------------------------------------------------

def proc_status_mb(pid: int, field: str) -> float | None:
    """VmHWM (peak RSS) or VmRSS of ``pid`` in MB (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        commit += "-dirty" if dirty else ""
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "commit": commit}


# --- processes ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start on port {port}")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    """SIGTERM the process (its own session), SIGKILL after ``timeout``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


class Sink:
    """A bench.sink process: arm(n, pid), then stats() until stats()["nth_at"]."""

    def __init__(self, workdir: Path, delay_ms: float = 0.0) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = open(workdir / f"sink-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sink", "--port", str(self.port), "--delay-ms",
             str(delay_ms)], cwd=ROOT, env=_child_env(), stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, self.proc, "the sink")
        self._http = httpx.Client(base_url=self.base_url, timeout=10)

    def arm(self, n: int, pid: int | None = None) -> None:
        params = {"n": n} | ({"pid": pid} if pid else {})
        self._http.get("/_sink/arm", params=params).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return self._http.get("/_sink/stats").raise_for_status().json()

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.proc.pid)

    def close(self) -> None:
        self._http.close()
        stop_process(self.proc, 10)
        self._log.close()


@contextlib.contextmanager
def sandbox_process(workdir: Path, *, rate_limit: int, window_s: float, window: str = "fixed",
                    time_scale: float = 1.0, others_share: float = 0.0) -> Iterator[str]:
    """The Freshdesk sandbox as a process of its own; yields its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "consumer_devtools", "sandbox", "--port", str(port),
           "--db", str(workdir / f"sandbox-{port}.db"), "--rate-limit", str(rate_limit),
           "--window-seconds", str(window_s), "--time-scale", str(time_scale),
           "--window-kind", window, "--others-share", str(others_share), "--seed", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_child_env(), stdout=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_for_port(port, proc, "the sandbox")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, 10)


def consumer_config(*, bootstrap: str, group: str, topic: str, base_url: str,
                    max_in_flight: int | None = None, max_pending: int | None = None,
                    kafka: dict[str, str] | None = None) -> str:
    """A subscription file: one topic through ``orders``, memory ledger, quiet logs; ``kafka``:
    more librdkafka settings (they pass through)."""
    return (
        "kafka:\n"
        f"  bootstrap.servers: {bootstrap}\n"
        f"  group.id: {group}\n"
        + "".join(f"  {key}: {value}\n" for key, value in (kafka or {}).items())
        + "freshdesk:\n"
        f"  base_url: {base_url}\n"
        "  api_key: sandbox-key\n"
        + (f"  max_in_flight: {max_in_flight}\n" if max_in_flight else "")
        + (f"processing:\n  max_pending_messages: {max_pending}\n" if max_pending else "")
        + "ledger:\n  backend: memory\n"
        "metrics:\n  host: 127.0.0.1\n  port: 0\n"
        "log:\n  level: WARNING\n"
        "subscriptions:\n"
        f"  - topic: {topic}\n    transform: orders\n")


class ConsumerProcess:
    """``python -m consumer run`` on a generated subscription file, this worktree's code."""

    def __init__(self, workdir: Path, name: str, **config: Any) -> None:
        self.group = f"bench-{name}-{uuid.uuid4().hex[:8]}"
        cfg = workdir / f"{self.group}.yaml"
        cfg.write_text(consumer_config(group=self.group, **config))
        self.log_path = workdir / f"{self.group}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.started = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "consumer", "run", "--config", str(cfg)], cwd=ROOT,
            env=_child_env(), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the consumer exited with {self.proc.returncode}:\n{self.log_tail()}")

    def cpu(self) -> float | None:
        return cpu_seconds(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()

    def __enter__(self) -> ConsumerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the broker and its topics ------------------------------------------------------------------

class Env:
    """One broker, one fast sink and one work directory for a whole run; topics made once."""

    def __init__(self, keep: bool = False, consumer_kafka: dict[str, str] | None = None) -> None:
        from consumer_devtools.local_kafka import LocalKafka

        self.workdir = Path(tempfile.mkdtemp(prefix="fdac-bench-"))
        self.keep = keep
        self.consumer_kafka = consumer_kafka or {}  # extra librdkafka settings of every consumer
        self.kafka = LocalKafka(self.workdir / "kafka")
        self._topics: dict[str, int] = {}
        self._sink: Sink | None = None

    def start(self) -> Env:
        progress(f"starting the Kafka broker (work dir {self.workdir})")
        self.kafka.start()
        progress(f"broker up on {self.kafka.bootstrap} in {self.kafka.startup_seconds:.1f}s")
        return self

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    def consumer(self, name: str, **config: Any) -> ConsumerProcess:
        """The consumer on this broker (and this run's extra Kafka settings)."""
        return ConsumerProcess(self.workdir, name, bootstrap=self.bootstrap,
                               kafka=self.consumer_kafka, **config)

    @property
    def sink(self) -> Sink:
        if self._sink is None:
            self._sink = Sink(self.workdir)
        return self._sink

    def topic(self, name: str, n: int, messages: Callable[[], Iterator[tuple[bytes, bytes]]]) -> str:
        """``name`` holding ``n`` messages, produced on first use and reused afterwards."""
        if name not in self._topics:
            from bench.events import produce

            self.kafka.create_topic(name, PARTITIONS)
            progress(f"producing {n:,} events to {name}")
            got = produce(self.bootstrap, name, messages(), progress)
            assert got["count"] == n, got
            progress(f"produced {n:,} events to {name} in {got['seconds']}s "
                     f"(median {got['bytes_median']:,} bytes)")
            self._topics[name] = n
        return name

    def end_offsets(self, topic: str) -> dict[int, int]:
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-probe"})
        try:
            meta = c.list_topics(topic, timeout=10).topics[topic]
            return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for p in meta.partitions}
        finally:
            c.close()

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
        if self.keep:
            self.kafka.stop()
            progress(f"kept {self.workdir}")
        else:
            self.kafka.cleanup()
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Env:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
