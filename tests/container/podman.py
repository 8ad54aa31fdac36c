"""The image under test, built and run with podman as CI can here (runc, cgroupfs, explicit ulimits)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = ("podman is not installed: run .ci/install-test-tools.sh (Debian's podman, "
                "runc, uidmap and mmdebstrap), then .ci/build-image.sh")
# runc and cgroupfs: podman's default crun fails on this machine's hybrid cgroup layout.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]


def ulimits() -> list[str]:
    """Explicit limits: podman's defaults ask for more open files than this machine allows."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return ["--ulimit", f"nofile={soft}:{soft}", "--ulimit", "nproc=4096:4096"]


def podman_missing() -> bool:
    return shutil.which("podman") is None or shutil.which("runc") is None


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args[:2])}: {result.stderr[-2000:]}"
    return result


def build_image() -> str:
    """$FDAC_IMAGE when CI built it already, else .ci/build-image.sh (cached; prints the name)."""
    if os.environ.get("FDAC_IMAGE"):
        return os.environ["FDAC_IMAGE"]
    result = subprocess.run(["bash", str(ROOT / ".ci" / "build-image.sh")], capture_output=True,
                            text=True, timeout=1200, cwd=ROOT)
    assert result.returncode == 0, f".ci/build-image.sh failed:\n{result.stderr[-3000:]}"
    return result.stdout.strip().splitlines()[-1]


def inspect(ref: str, what: str = "image") -> dict[str, Any]:
    return json.loads(podman(what, "inspect", ref).stdout)[0]
