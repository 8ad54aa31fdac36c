"""A real Schema Registry (Confluent-compatible API) for tests, the demo and trying formats.

Integration tests mock nothing, and this machine reaches only package registries, so the registry
is Apicurio Registry (Apache-2.0) from Maven Central: ``io.apicurio:apicurio-registry-app``,
classifier ``all``, a ready Quarkus build as a tar.gz, fetched once into the cache folder
(``$ACTIVITY_CONSUMER_CACHE``, else ``~/.cache/freshdesk-activity-consumer``) and run as
``java -jar quarkus-run.jar`` with in-memory storage. 3.x needs Java 21+: :func:`find_java`
looks at ``$APICURIO_JAVA``, ``$JAVA_HOME``, ``java`` on PATH and ``/usr/lib/jvm/*``.

    with LocalSchemaRegistry() as registry:  # or: python -m consumer_devtools.schema_registry
        client = SchemaRegistryClient({"url": registry.url})  # .../apis/ccompat/v7

Where Apicurio differs from Confluent's registry, this launcher makes it behave like the common
deployment: global compatibility BACKWARD (Apicurio's default is NONE), and Quarkus' management
interface (0.0.0.0:9000 by default) bound to 127.0.0.1 on a free port, so instances never clash.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from consumer_devtools.local_kafka import cache_dir

__all__ = ["APICURIO_VERSION", "LocalSchemaRegistry", "ensure_registry_app", "find_java"]

APICURIO_VERSION = "3.3.3"
_ARTIFACT = f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"
_MIN_JAVA = 21
CCOMPAT_PATH = "/apis/ccompat/v7"

# A small heap (measured ~270 MB RSS) and C1 only: the registry answers a handful of requests
# per test session on 2 shared cores, so start-up matters and peak speed does not.
JVM_OPTS = ("-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData",
            "-Djava.awt.headless=true")


def _version_of(java: str) -> int | None:
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def find_java(minimum: int = _MIN_JAVA) -> str:
    """A ``java`` of at least ``minimum``: ``$APICURIO_JAVA``, ``$JAVA_HOME/bin/java``, ``java``
    on PATH, then every ``/usr/lib/jvm/*/bin/java`` (newest first). Raises RuntimeError naming
    what was found and how to fix it."""
    candidates: list[str] = []
    if os.environ.get("APICURIO_JAVA"):
        candidates.append(os.environ["APICURIO_JAVA"])
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    candidates += sorted((str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java")), reverse=True)
    seen: list[str] = []
    for java in dict.fromkeys(candidates):
        version = _version_of(java)
        seen.append(f"{java} ({version or 'not runnable'})")
        if version is not None and version >= minimum:
            return java
    raise RuntimeError(
        f"Apicurio Registry {APICURIO_VERSION} needs Java {minimum}+; found "
        f"{', '.join(seen) or 'no java at all'}. Install a JDK {minimum}+ (e.g. Temurin) and "
        "point APICURIO_JAVA at its bin/java."
    )


def ensure_registry_app(progress: Callable[[str], None] = print) -> Path:
    """The folder holding ``quarkus-run.jar``, fetched once from Maven Central and unpacked.

    The marker is written only after the unpack succeeded, so a download cut short is redone; a
    file lock makes parallel sessions wait for one download instead of racing."""
    home = cache_dir() / f"apicurio-registry-{APICURIO_VERSION}"
    app, marker = home / "app", home / "app.complete"
    if marker.is_file():
        return app
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file():
            return app
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("`mvn` is not on PATH and is needed to fetch Apicurio Registry from "
                               "Maven Central: install it (Debian: apt-get install maven)")
        progress(f"fetching Apicurio Registry {APICURIO_VERSION} from Maven Central into {app} "
                 "(once, ~160 MB)")
        download = home / "download"
        shutil.rmtree(download, ignore_errors=True)
        command = [mvn, "-q", "-B", "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
                   f"-Dartifact={_ARTIFACT}", f"-DoutputDirectory={download}"]
        done = subprocess.run(command, cwd=home, capture_output=True, text=True, check=False)
        archives = list(download.glob("*.tar.gz")) if download.is_dir() else []
        if done.returncode != 0 or len(archives) != 1:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise RuntimeError(f"`{' '.join(command)}` exited {done.returncode}; Maven's last "
                               f"lines:\n{tail}")
        shutil.rmtree(app, ignore_errors=True)
        with tarfile.open(archives[0]) as archive:
            archive.extractall(app, filter="data")
        if not (app / "quarkus-run.jar").is_file():
            raise RuntimeError(f"{archives[0]} has no quarkus-run.jar at its top level")
        shutil.rmtree(download, ignore_errors=True)  # 160 MB we no longer need
        marker.write_text(f"{_ARTIFACT}\n")
    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: if this Python process dies, even by SIGKILL, the kernel sends
    the registry SIGTERM (PR_SET_PDEATHSIG), so a killed test run leaves no JVM behind."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _class_archive(java: str, app: Path) -> Path:
    """The AppCDS archive of the registry's classes, one per JDK build (see LocalKafka's)."""
    real = Path(java).resolve()
    key = hashlib.sha1(f"{real}:{real.stat().st_mtime_ns}".encode()).hexdigest()[:10]
    return app.parent / f"classes-{key}.jsa"


class LocalSchemaRegistry:
    """One Apicurio Registry process on 127.0.0.1, in-memory storage (a restart forgets every
    schema). ``url`` is the Confluent-compatible API, what ``SchemaRegistryClient`` takes.

    ``pause()``/``resume()`` freeze it (SIGSTOP): a registry that accepts connections but never
    answers, as an overloaded or partitioned one looks to a client.
    """

    def __init__(self, workdir: Path | None = None, port: int | None = None, *,
                 compatibility: str = "BACKWARD") -> None:
        self._temp = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="registry-"))
        self.port = port or _free_port()
        self.management_port = _free_port()
        self.compatibility = compatibility
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.url = self.base_url + CCOMPAT_PATH
        self.log_path = self.workdir / "registry.log"
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._dump: tuple[Path, Path] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 120.0) -> LocalSchemaRegistry:
        """Launch, and return once the ccompat API has answered and compatibility is set.

        Raises RuntimeError with the log's last lines if the JVM exits or ``timeout`` passes."""
        if self.running:
            return self
        app = ensure_registry_app()
        java = find_java()
        self.workdir.mkdir(parents=True, exist_ok=True)
        archive = _class_archive(java, app)
        if archive.is_file():
            cds = [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off"]
        else:  # the first clean stop writes it; see stop()
            self._dump = (self.workdir / "classes.jsa", archive)
            cds = [f"-XX:ArchiveClassesAtExit={self._dump[0]}", "-Xlog:cds=off"]
        props = {
            "quarkus.http.host": "127.0.0.1",
            "quarkus.http.port": self.port,
            "quarkus.management.host": "127.0.0.1",
            "quarkus.management.port": self.management_port,
            "quarkus.log.console.color": "false",
        }
        command = [java, *cds, *JVM_OPTS, *(f"-D{k}={v}" for k, v in props.items()),
                   "-jar", str(app / "quarkus-run.jar")]
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                command, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        self._wait_ready(began + timeout)
        self._set_compatibility()
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_ready(self, deadline: float) -> None:
        """Until the API answers 200: a positive signal, polled (a refused connection costs
        nothing), never a fixed sleep."""
        assert self._proc is not None
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    code, self._proc = self._proc.returncode, None
                    raise RuntimeError(f"Apicurio Registry exited with code {code} during start-up "
                                       f"(log: {self.log_path}):\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + "/subjects").status_code == 200:
                        return
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Apicurio Registry on {self.base_url} not ready in time "
                           f"(log: {self.log_path}):\n{self.log_tail()}")

    def _set_compatibility(self) -> None:
        answer = httpx.put(self.url + "/config", json={"compatibility": self.compatibility},
                           timeout=10.0)
        if answer.status_code != 200:
            raise RuntimeError(f"PUT {self.url}/config answered {answer.status_code}: "
                               f"{answer.text[:300]}")

    def pause(self) -> None:
        assert self._proc is not None, "pause() needs a running registry"
        os.killpg(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None, "resume() needs a running registry"
        os.killpg(self._proc.pid, signal.SIGCONT)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Quarkus shuts down cleanly), SIGKILL after ``timeout``. Idempotent."""
        proc, self._proc = self._proc, None
        dump, self._dump = self._dump, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)  # a paused JVM cannot handle SIGTERM
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
                clean = True
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                clean = False
            if dump and clean and dump[0].is_file():
                part = dump[1].with_suffix(f".{os.getpid()}.part")
                shutil.copyfile(dump[0], part)
                os.replace(part, dump[1])  # atomic: a parallel start sees none or a whole one
        if dump:
            dump[0].unlink(missing_ok=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log at {self.log_path}: {exc})"

    def cleanup(self) -> None:
        """Stop, and delete workdir if it was made for us."""
        self.stop()
        if self._temp:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalSchemaRegistry:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Run a registry in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser("python -m consumer_devtools.schema_registry",
                                     description=main.__doc__)
    parser.add_argument("--port", type=int, help="HTTP port (default: a free one)")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    registry = LocalSchemaRegistry(port=args.port)
    try:
        registry.start()
        print(f"url={registry.url}", flush=True)
        print(f"log={registry.log_path} started_in={registry.startup_seconds:.1f}s", flush=True)
        while not stopping.wait(1.0):
            if not registry.running:
                raise RuntimeError(f"Apicurio Registry exited unexpectedly:\n{registry.log_tail()}")
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        registry.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
