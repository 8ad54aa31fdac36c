"""The chart's tests need helm; in CI its absence fails them, with what to install."""

from __future__ import annotations

import os

import pytest

from tests.chart.helm import INSTALL_HINT, Helm, find_helm


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "helm: renders the chart with helm (.ci/install-helm.sh)")


@pytest.fixture(scope="session")
def helm() -> Helm:
    binary = find_helm()
    if binary is None or not os.access(binary, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT, pytrace=False)
        pytest.skip(INSTALL_HINT)
    return Helm(binary)
