"""One long-running program of the cluster (etcd, an API server, containerd, the kubelet...):
started with its log in a file, tied to the test run's life, stopped with SIGTERM then SIGKILL.
And ``wait_until``: every wait here is for a positive signal, polled, with a deadline that
fails loudly with what was seen last."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: if the test run dies (even by SIGKILL), the kernel sends this
    program SIGTERM (PR_SET_PDEATHSIG), so a killed run leaves no cluster behind."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def wait_until(check: Callable[[], T | None], timeout: float, what: str,
               diagnose: Callable[[], str] = lambda: "", interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy and return that; fail after ``timeout``
    with ``what`` and ``diagnose()``. An exception inside ``check`` counts as "not yet" (the
    last one is shown)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except Exception as exc:  # not yet: a port not open, an object not made
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not seen within {timeout:.0f}s (last: {last!r})\n{diagnose()}")
        time.sleep(interval)


class Daemon:
    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **(self.env or {})}, start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        """Raise with the log's tail if the program has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                               f"{self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
