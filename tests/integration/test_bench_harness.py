"""`python -m bench --quick`: the harness runs every benchmark end to end and each JSON line carries
its figures, target and machine. Only that the figures exist is asserted, never their values (tiny
sizes on a shared machine: they mean little)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "filter": {"events_per_s", "cpu_us_per_event"},
    "delivery": {"activities_per_s", "cpu_us_per_activity"},
    "budget": {"goodput_pct", "throttled_pct"},
    "latency": {"p50_ms", "p95_ms", "p99_ms"},
    "memory": {"peak_rss_mb"},
}


@pytest.mark.timeout(240)
def test_quick_run_gives_every_benchmark_its_figures(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--results", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=230)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert rows == [json.loads(line) for line in next(tmp_path.glob("*.jsonl")).read_text()
                    .splitlines()], "stdout and the results file hold the same lines"
    seen = {}
    for row in rows:
        assert "error" not in row, row
        assert FIGURES[row["bench"]] <= {k for k, v in row["figures"].items()
                                         if isinstance(v, int | float)}, row
        assert row["result"] in ("pass", "miss", "no target"), row
        assert row["cores"] and row["cpu"] and row["python"] and row["commit"], row
        assert 0 <= row["steal_pct"] <= 100, "the host's steal while it ran, read with the figures"
        seen.setdefault(row["bench"], []).append(row["variant"])
    assert set(seen) == set(FIGURES), seen
    assert seen["filter"] == ["2kb", "12kb"] and len(seen["delivery"]) == 2, seen
    assert all(row["target"] for row in rows if row["variant"] != "12kb"), "targets printed"
    assert "| benchmark |" in done.stdout and "total " in done.stdout  # the table
