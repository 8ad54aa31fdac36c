"""The sandbox's rate budget on a fake clock: fixed and sliding windows, an accelerated clock, and
another integration spending its share. Over HTTP: tests/integration/test_sandbox_budget.py."""

from __future__ import annotations

import itertools

import pytest

from consumer_devtools.sandbox.ratelimit import AccountBudget
from consumer_devtools.sandbox.settings import SandboxSettings, with_budget


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def spend_all(budget: AccountBudget, n: int) -> list[tuple[bool, int]]:
    return [(s.allowed, s.remaining) for s in (budget.spend() for _ in range(n))]


def test_fixed_window_refills_everything_at_once_when_it_ends():
    clock = Clock()
    budget = AccountBudget(3, 10.0, "fixed", clock=clock)
    assert spend_all(budget, 4) == [(True, 2), (True, 1), (True, 0), (False, 0)]
    clock.t += 9.5
    refused = budget.spend()
    assert not refused.allowed and refused.retry_after == 1
    clock.t += 0.5
    assert spend_all(budget, 1) == [(True, 2)]


def test_sliding_window_frees_each_call_one_window_after_it_was_made():
    clock = Clock()
    budget = AccountBudget(3, 10.0, "sliding", clock=clock)
    budget.spend()
    clock.t += 4
    budget.spend()
    budget.spend()
    refused = budget.spend()
    assert not refused.allowed and refused.retry_after == 6, "until the first call leaves"
    clock.t += 6  # the first call leaves; the other two stay
    assert spend_all(budget, 2) == [(True, 0), (False, 0)]
    clock.t += 4  # the next two leave
    assert spend_all(budget, 1) == [(True, 1)]


def test_time_scale_runs_an_hourly_window_fast_and_retry_after_is_in_real_seconds():
    clock = Clock()
    budget = AccountBudget(2, 3600.0, "fixed", time_scale=600, clock=clock)  # an hour in 6 s
    assert spend_all(budget, 3) == [(True, 1), (True, 0), (False, 0)]
    refused = budget.spend()
    assert refused.retry_after == 6, "3600 account seconds are 6 real ones"
    clock.t += 6
    assert budget.spend().allowed


@pytest.mark.parametrize("kind", ["fixed", "sliding"])
def test_another_integration_spends_its_share_of_every_window_at_seeded_moments(kind):
    def run(seed: int) -> tuple[list[int], dict]:
        clock = Clock()
        budget = AccountBudget(100, 10.0, kind, others_share=0.2, seed=seed, clock=clock)
        seen = []
        for _ in range(50):  # 5 windows, one of our calls a second
            clock.t += 1.0
            seen.append(budget.spend().remaining)
        return seen, budget.describe()["others"]

    seen, others = run(seed=1)
    assert others["calls_per_window"] == 20
    assert 80 <= others["sent"] <= 100 and others["throttled"] == 0
    drops = [a - b for a, b in itertools.pairwise(seen) if a - b > 1]
    assert drops, "Remaining falls faster than our own calls explain"
    assert run(seed=1) == (seen, others), "the same seed, the same moments"
    assert run(seed=2)[0] != seen


def test_the_other_integration_is_refused_too_when_the_budget_is_spent():
    clock = Clock()
    budget = AccountBudget(10, 10.0, "fixed", others_share=0.5, seed=1, clock=clock)
    assert spend_all(budget, 10)[-1] == (True, 0)  # we took it all at the window's start
    clock.t += 9.99
    assert budget.describe()["others"]["throttled"] == 5


def test_budget_settings_are_checked_by_name():
    base = SandboxSettings()
    assert with_budget(base, {"window_kind": "sliding", "others_share": 0.2}).window_kind == "sliding"
    for changes, named in [({"window_kind": "rolling"}, "window_kind"),
                           ({"others_share": 1.5}, "others_share"),
                           ({"time_scale": 0}, "time_scale"),
                           ({"rate_limit": 2.5}, "rate_limit"),
                           ({"window": 60}, "unknown budget settings: window")]:
        with pytest.raises(ValueError, match=named):
            with_budget(base, changes)
