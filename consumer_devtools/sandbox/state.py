"""Everything one running sandbox account knows, shared by its handlers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from consumer_devtools.sandbox.faults import FaultInjector
from consumer_devtools.sandbox.ratelimit import AccountBudget
from consumer_devtools.sandbox.settings import SandboxSettings, with_budget
from consumer_devtools.sandbox.store import ActivityStore


@dataclass
class SandboxState:
    settings: SandboxSettings
    store: ActivityStore
    budget: AccountBudget
    faults: FaultInjector
    api_keys: frozenset[str] = frozenset()
    forbidden_keys: frozenset[str] = frozenset()
    # Every API request answered (or dropped), oldest first: tests assert on timing.
    requests: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: SandboxSettings) -> SandboxState:
        return cls(
            settings=settings,
            store=ActivityStore(settings.db_path),
            budget=budget_for(settings),
            faults=FaultInjector(settings.seed),
            api_keys=frozenset(settings.api_keys),
            forbidden_keys=frozenset(settings.forbidden_keys),
        )

    def log_request(self, status: int | None, contact: str | None,
                    fault: str | None = None, **details: Any) -> None:
        """`status` is None for a dropped connection; `fault` names an injected one; `details`
        (e.g. the stored activity's id) are kept with the entry."""
        self.requests.append({"at": time.time(), "status": status, "contact": contact,
                              "fault": fault, **details})

    def set_api_keys(self, keys: tuple[str, ...] | list[str],
                     forbidden: tuple[str, ...] | list[str] = ()) -> None:
        self.api_keys = frozenset(keys)
        self.forbidden_keys = frozenset(forbidden)

    def set_budget(self, changes: dict[str, Any]) -> None:
        """Change the rate budget (ValueError names a bad key); the window starts afresh."""
        self.settings = with_budget(self.settings, changes)
        self.budget = budget_for(self.settings)

    def reset(self) -> None:
        """Back to an empty account: no activities, contacts, requests, faults or spent
        budget. API keys stay as they are."""
        self.store.clear()
        self.requests.clear()
        self.faults.clear()
        self.budget.reset()


def budget_for(settings: SandboxSettings) -> AccountBudget:
    kind = "sliding" if settings.window_kind == "sliding" else "fixed"
    return AccountBudget(settings.rate_limit, settings.window_seconds, kind, settings.time_scale,
                         settings.others_share, settings.seed)


STATE = web.AppKey("sandbox_state", SandboxState)
