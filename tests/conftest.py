"""Shared fixtures: the real Kafka broker, the Freshdesk sandbox, and running consumers; and for
the network: a test CA, switchable TCP fronts, a real squid proxy, misbehaving HTTP servers.

In CI a skipped test fails the run: a skip there would hide a missing component.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.sandbox",
    "tests.fixtures.consumer",
    "tests.fixtures.redis",
    "tests.fixtures.prometheus",
    "tests.fixtures.schema_registry",
    "tests.fixtures.tls",
    "tests.fixtures.front",
    "tests.fixtures.proxy",
    "tests.fixtures.hostile",
]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {skipped} test(s) skipped; a skip in CI hides a missing "
                            "component, so the run fails (see the skip reasons above)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
