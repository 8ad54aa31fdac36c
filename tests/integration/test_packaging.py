"""The service ships the service: its wheel holds no tooling, and `run` loads none of it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What `run` does before it connects: the parser, the subscription file, the loop's imports.
_RUN_IMPORTS = """
import sys
from consumer import cli
args = cli.build_parser().parse_args(["run", "-c", sys.argv[1]])
cli._load(args.config)
import consumer.app
print(" ".join(sorted(sys.modules)))
"""


def test_the_wheel_holds_the_service_and_no_tooling(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy of what git tracks: the build writes build/ beside it
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                           timeout=60).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(tmp_path), str(source)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("freshdesk_activity_consumer-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    packages = {t for t in tops if not t.endswith((".dist-info", ".data"))}
    assert packages == {"consumer", "transforms"}, packages


def test_run_imports_no_tooling_module(tmp_path: Path) -> None:
    config = tmp_path / "subscriptions.yaml"
    config.write_text((ROOT / "examples" / "subscriptions.yaml").read_text())
    loaded = subprocess.run([sys.executable, "-c", _RUN_IMPORTS, str(config)], cwd=tmp_path,
                            env={"FRESHDESK_API_KEY": "k-123", "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, check=True, timeout=120).stdout.split()
    assert "consumer.loop" in loaded  # the probe really ran the imports
    assert not [m for m in loaded if m.startswith("consumer_devtools")]
    assert "httpx" not in loaded  # tooling's HTTP client, never the service's
    # JSON topics with built-in transforms: no registry serdes, no JSONata (~300 modules)
    assert not {"fastavro", "jsonata", "authlib", "google.protobuf"} & set(loaded)
