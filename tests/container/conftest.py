"""The container tests need podman and the built image; in CI their absence fails the tests."""

from __future__ import annotations

import os

import pytest

from tests.container.podman import INSTALL_HINT, build_image, podman_missing


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "container: builds and runs the image with podman")


@pytest.fixture(scope="session")
def image() -> str:
    if podman_missing():
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT, pytrace=False)
        pytest.skip(INSTALL_HINT)
    return build_image()
