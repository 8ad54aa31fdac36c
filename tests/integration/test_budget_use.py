"""bench/budget_use.py, shortened: three replicas sharing the budget through Redis spend it and
meet almost no 429s, against the sandbox over HTTP, fixed and sliding windows, with another
integration spending 20%.

Only shares are asserted (of the budget, of our calls), measured against the sandbox's own count
of what it answered and its clock: a slow machine makes fewer calls per second, not a different
share of the account's window. The full bench and its table: `bench/budget_use.py`.
"""

from __future__ import annotations

import pytest

from bench.budget_use import Case, run_cases

pytestmark = pytest.mark.integration


def test_three_replicas_spend_the_budget_with_almost_no_429s():
    results = run_cases([Case("fixed", 3, "redis"), Case("sliding", 3, "redis")], duration=15)
    for r in results:
        where = f"{r['case']}: {r}"
        assert r["throttled_pct"] <= 1.0, where
        assert r["goodput_pct"] >= 90.0, where
