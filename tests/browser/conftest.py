"""Headless Chromium for the browser tests: fails in CI when it is missing, skips elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.cdp import INSTALL_HINT, Chromium, find_chromium


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        reason = f"headless Chromium is not installed; the timeline page tests need it: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return binary


@pytest.fixture
def browser(chromium_binary: str, tmp_path: Path) -> Iterator[Chromium]:
    """One started headless Chromium with a fresh profile under the test's tmp_path."""
    with Chromium(chromium_binary, tmp_path / "chromium-profile") as started:
        yield started
