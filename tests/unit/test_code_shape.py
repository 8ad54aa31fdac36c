"""Issue 18's shape, kept: small functions, a loop that fits in one screen, config as a leaf."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parents[2]
MAX_COMPLEXITY = 15  # cyclomatic, per function or method (radon)
MAX_LOOP_LINES = 400


def _python_files() -> list[Path]:
    return sorted(p for d in ("consumer", "transforms") for p in (ROOT / d).rglob("*.py"))


def test_no_function_of_the_service_or_transforms_is_more_complex_than_15() -> None:
    found = []
    for path in _python_files():
        for block in cc_visit(path.read_text()):
            if block.complexity > MAX_COMPLEXITY:
                found.append(f"{path.relative_to(ROOT)}:{block.lineno} {block.fullname} "
                             f"complexity {block.complexity}")
    assert len(_python_files()) > 50  # the walk really read the packages
    assert not found, "split these (one decision per function):\n" + "\n".join(found)


def test_the_poll_loop_fits_in_400_lines() -> None:
    lines = len((ROOT / "consumer" / "loop.py").read_text().splitlines())
    assert lines <= MAX_LOOP_LINES, f"consumer/loop.py has {lines} lines; move a concept out"


def test_config_imports_nothing_of_the_service() -> None:
    probe = ("import sys, consumer.config; print(' '.join(m for m in sys.modules "
             "if m.startswith(('consumer', 'transforms'))))")
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                                text=True, check=True, timeout=60).stdout.split())
    assert "consumer.config" in loaded
    others = {m for m in loaded if m != "consumer" and not m.startswith("consumer.config")}
    assert not others, f"consumer.config pulls in {sorted(others)}"
