"""A real one-node Apache Kafka (KRaft) broker for tests, the demo and benchmarks.

Integration tests mock nothing, and this machine reaches only package registries, so the broker
comes from Maven Central jars (the classpath the distribution's ``libs/`` holds) and runs the way
``kafka-server-start.sh`` runs it: ``java -cp 'libs/*' kafka.Kafka server.properties``.

    with LocalKafka() as kafka:  # or, for humans: python -m consumer_devtools.local_kafka [--port N]
        kafka.create_topic("orders", partitions=3)
        ...  # point clients at kafka.bootstrap
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported, not in __all__
    AdminClient,
    NewTopic,
)

__all__ = ["KAFKA_VERSION", "LocalKafka", "cache_dir", "ensure_kafka_jars"]

KAFKA_VERSION = "4.3.1"
# Kafka 4.x logs through slf4j 1.7 (its poms pin slf4j-api 1.7.36), so the matching binding is
# log4j-slf4j-impl, as in the distribution's libs/ (log4j-slf4j2-impl needs slf4j-api 2).
LOG4J_VERSION = "2.25.4"

# Kafka's own G1 settings (kafka-run-class.sh) with a small heap: the broker shares 2 cores with
# the consumer under test. JIT flags stay default: C1-only starts 0.7 s sooner but is slow under
# load. Start-up is mostly class loading, so start() adds an AppCDS archive (_class_archive).
JVM_OPTS = (
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
)

# The default 50 makes a fresh broker's first consumer group wait for 50 partitions to load.
_OFFSETS_PARTITIONS = 5

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
  <build><plugins><plugin><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
    <configuration><includeScope>runtime</includeScope></configuration>
  </plugin></plugins></build>
</project>
"""

# Everything goes to stdout, which start() appends to log_path: one file tells the whole story.
_LOG4J2 = """appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
"""


def cache_dir() -> Path:
    """Where downloaded jars live: $ACTIVITY_CONSUMER_CACHE, else under ~/.cache."""
    configured = os.environ.get("ACTIVITY_CONSUMER_CACHE")
    return Path(configured) if configured else Path.home() / ".cache/freshdesk-activity-consumer"


def _require(program: str, why: str) -> str:
    found = shutil.which(program)
    if found is None:
        package = "maven" if program == "mvn" else "openjdk-17-jre-headless"
        raise RuntimeError(
            f"`{program}` is not on PATH and is needed {why}: "
            f"install it (Debian: apt-get install {package}) or put it on PATH."
        )
    return found


def ensure_kafka_jars(progress: Callable[[str], None] = print) -> Path:
    """Return the folder holding Kafka's runtime classpath, fetching it once from Maven Central.

    The marker file is written only after Maven succeeded, so a download cut short is redone.
    A file lock makes parallel test sessions wait for one download instead of racing.
    """
    home = cache_dir() / f"kafka-{KAFKA_VERSION}"
    libs, marker = home / "libs", home / "libs.complete"
    if marker.is_file():
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file():  # another process finished it while we waited
            return libs
        mvn = _require("mvn", "to fetch the Kafka jars from Maven Central")
        _require("java", "to run Maven and the Kafka broker")
        (home / "pom.xml").write_text(_POM.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION))
        shutil.rmtree(libs, ignore_errors=True)
        progress(f"fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {libs} (once, ~45 MB)")
        command = [mvn, "-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=libs"]
        done = subprocess.run(command, cwd=home, capture_output=True, text=True, check=False)
        jars = sorted(p.name for p in libs.glob("*.jar")) if libs.is_dir() else []
        if done.returncode != 0 or f"kafka_2.13-{KAFKA_VERSION}.jar" not in jars:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise RuntimeError(
                f"`{' '.join(command)}` in {home} exited {done.returncode} with "
                f"{len(jars)} jars copied; Maven's last lines:\n{tail}"
            )
        marker.write_text("\n".join(jars) + "\n")
    return libs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _class_archive(java: str, libs: Path) -> Path:
    """The AppCDS archive of the broker's classes, one per JDK build.

    Measured on 2 cores: a warm start takes 2.3 s without it, 1.35 s with it (storage format:
    0.7 s, 0.45 s). Java 17 has no -XX:+AutoCreateSharedArchive, so the first broker's clean stop
    dumps it (-XX:ArchiveClassesAtExit); a JDK upgrade gets a new file rather than a stale one.
    """
    real = Path(java).resolve()
    key = hashlib.sha1(f"{real}:{real.stat().st_mtime_ns}".encode()).hexdigest()[:10]
    return libs.parent / f"classes-{key}.jsa"


def _die_with_parent() -> None:
    """In the child before exec: if this Python process dies, even by SIGKILL, the kernel sends
    the broker SIGTERM (PR_SET_PDEATHSIG), so a killed test run leaves no JVM behind."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _cluster_id() -> str:
    """What `StorageTool random-uuid` prints (Kafka's Uuid: URL-safe base64, unpadded, never
    starting with "-"), made here because launching a JVM for it costs 0.7 s per fresh broker."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


SASL_USERS = {"fdac": "fdac-secret-0123"}  # the SASL_PLAINTEXT listener's PLAIN users


class LocalKafka:
    """One broker+controller process on 127.0.0.1 with its data under ``workdir``.

    Ports are fixed for the object's life, so ``restart()`` comes back where clients expect it.
    On Linux the broker lives no longer than the thread that called start(): start it from the
    main thread or another thread that outlives it.
    """

    def __init__(
        self, workdir: Path | None = None, port: int | None = None, *, log_path: Path | None = None
    ) -> None:
        self._temp = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kafka-"))
        self.port = port or _free_port()
        self.controller_port = _free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        # A second listener with SASL/PLAIN, for tests of credentials (SASL_USERS may log in).
        self.sasl_port = _free_port()
        self.sasl_bootstrap = f"127.0.0.1:{self.sasl_port}"
        self.log_path = Path(log_path) if log_path else self.workdir / "broker.log"
        self.startup_seconds: float | None = None  # of the last start(), for reports
        self._proc: subprocess.Popen[bytes] | None = None
        self._dump: tuple[Path, Path] | None = None  # (archive the JVM writes at exit, its home)

    def start(self, timeout: float = 90.0) -> LocalKafka:
        """Format storage if new, launch the broker, and return once it serves metadata.

        Raises RuntimeError with the log's last 40 lines if the JVM exits or `timeout` passes.
        """
        if self._proc is not None and self._proc.poll() is None:
            return self
        libs = ensure_kafka_jars()
        java = _require("java", "to run the Kafka broker")
        config = self._write_config()
        archive = _class_archive(java, libs)
        cds = [f"-XX:SharedArchiveFile={archive}"] if archive.is_file() else []
        log4j = f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}"
        jvm = [java, *cds, "-cp", f"{libs}/*", log4j]
        began = time.monotonic()
        if not (self.workdir / "data" / "meta.properties").is_file():
            format_ = ["kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config)]
            with open(self.log_path, "ab") as log:
                if subprocess.run([*jvm, *format_], stdout=log, stderr=log).returncode != 0:
                    raise RuntimeError(f"formatting storage for {config} failed:\n{self.log_tail()}")
        if not cds:
            self._dump = (self.workdir / "classes.jsa", archive)
            jvm[1:1] = [f"-XX:ArchiveClassesAtExit={self._dump[0]}", "-Xlog:cds=off"]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [*jvm, *JVM_OPTS, "kafka.Kafka", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a test run must not reach the broker
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self._wait_ready(began + timeout)
        # Left to the first consumer group, creating __consumer_offsets costs that group ~3 s of
        # client retries (first message 3.7 s -> 0.8 s); a metadata request creates it in 0.1 s.
        self._await_partitions("__consumer_offsets", _OFFSETS_PARTITIONS)
        self.startup_seconds = time.monotonic() - began
        return self

    def _write_config(self) -> Path:
        props = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "listeners": f"PLAINTEXT://{self.bootstrap},SASL_PLAINTEXT://{self.sasl_bootstrap},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap},"
                                    f"SASL_PLAINTEXT://{self.sasl_bootstrap}",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config":
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                + " ".join(f'user_{u}="{p}"' for u, p in SASL_USERS.items()) + ";",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "log.dirs": self.workdir / "data",
            "num.partitions": 1,
            "auto.create.topics.enable": "true",
            "min.insync.replicas": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": _OFFSETS_PARTITIONS,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,  # the default makes each new group wait 3 s
            # After a crash (kill()) the controller refuses the broker's re-registration until
            # the old session expires: 9 s by default. Both live in one JVM, so 3 s is plenty.
            "broker.session.timeout.ms": 3000,
            "broker.heartbeat.interval.ms": 500,
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j2.properties").write_text(_LOG4J2)
        config = self.workdir / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
        return config

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code, self._proc = self._proc.returncode, None
                raise RuntimeError(
                    f"Kafka broker exited with code {code} during start-up "
                    f"(log: {self.log_path}):\n{self.log_tail()}"
                )
            # TCP first: an AdminClient dialling a closed port backs off and logs noise.
            with socket.socket() as probe:
                listening = probe.connect_ex(("127.0.0.1", self.port)) == 0
            try:
                if listening and self._admin().list_topics(timeout=2).brokers:
                    return
            except KafkaException:
                pass
            time.sleep(0.05)
        self.stop()
        where = f"{self.bootstrap} (log: {self.log_path})"
        raise RuntimeError(f"Kafka broker on {where} not ready in time:\n{self.log_tail()}")

    def _admin(self) -> AdminClient:
        return AdminClient(
            {
                "bootstrap.servers": self.bootstrap,
                "reconnect.backoff.max.ms": 500,
                "allow.auto.create.topics": True,  # for __consumer_offsets: see start()
            }
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the broker log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log at {self.log_path}: {exc})"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Kafka's controlled shutdown), then SIGKILL after `timeout`. Idempotent."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no controlled shutdown."""
        self._signal(signal.SIGKILL, 10.0)

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        proc, self._proc = self._proc, None
        dump, self._dump = self._dump, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                sig = signal.SIGKILL
            if dump and sig == signal.SIGTERM and dump[0].is_file():  # a clean exit wrote it all
                part = dump[1].with_suffix(f".{os.getpid()}.part")
                shutil.copyfile(dump[0], part)
                os.replace(part, dump[1])  # atomic: a parallel start sees none or a whole one
        if dump:
            dump[0].unlink(missing_ok=True)

    def restart(self, timeout: float = 90.0) -> None:
        """Stop and start again on the same ports and data dir; committed data survives."""
        self.stop()
        self.start(timeout)

    def create_topic(self, name: str, partitions: int = 1,
                     config: dict[str, str] | None = None) -> None:
        """Create `name` (with topic `config`, e.g. max.message.bytes) and return once metadata
        shows every partition with a leader."""
        admin = self._admin()  # must outlive the future: destroying it fails the request
        try:
            admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])[
                name].result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
        self._await_partitions(name, partitions)

    def _await_partitions(self, name: str, partitions: int) -> None:
        admin = self._admin()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            topic = admin.list_topics(name, timeout=5).topics.get(name)
            found = topic.partitions if topic is not None and topic.error is None else {}
            if len(found) == partitions and all(p.leader >= 0 for p in found.values()):
                return
            time.sleep(0.05)
        raise RuntimeError(f"topic {name}: {partitions} partitions with leaders not seen in 30 s")

    def cleanup(self) -> None:
        """Stop, and delete workdir if it was made for us (a log_path given outside it stays)."""
        self.stop()
        if self._temp:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run a broker in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser("python -m consumer_devtools.local_kafka", description=main.__doc__)
    parser.add_argument("--port", type=int, help="PLAINTEXT port (default: a free one)")
    parser.add_argument("--workdir", type=Path, help="data dir kept between runs (default: temp)")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    kafka = LocalKafka(args.workdir, args.port)
    try:
        kafka.start()
        print(f"bootstrap={kafka.bootstrap}", flush=True)
        print(f"log={kafka.log_path} started_in={kafka.startup_seconds:.1f}s", flush=True)
        while not stopping.wait(1.0):
            if kafka._proc is None or kafka._proc.poll() is not None:
                raise RuntimeError(f"Kafka broker exited unexpectedly:\n{kafka.log_tail()}")
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        kafka.cleanup()  # removes only a temp workdir; --workdir data stays
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
