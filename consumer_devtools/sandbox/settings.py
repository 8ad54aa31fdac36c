"""How one sandbox account is configured: its API keys, its rate budget, its storage."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

#: Enterprise plan budget (calls per minute), the highest Freshdesk sells.
DEFAULT_RATE_LIMIT = 700
DEFAULT_WINDOW_SECONDS = 60.0


@dataclass
class SandboxSettings:
    """One emulated Freshdesk account.

    The rate budget is per account (all keys together), as Freshdesk counts it;
    tests shrink it (e.g. 10 calls per 2 s) to reach 429 quickly, or run its clock faster
    (``time_scale``) for a per-hour window. See ratelimit.py for the window kinds.
    """

    api_keys: tuple[str, ...] = ("sandbox-key",)  # accepted keys
    forbidden_keys: tuple[str, ...] = ()  # keys answered with 403 access_denied
    rate_limit: int = DEFAULT_RATE_LIMIT  # calls per window, per account
    window_seconds: float = DEFAULT_WINDOW_SECONDS  # in the account's own seconds
    window_kind: str = "fixed"  # fixed | sliding
    time_scale: float = 1.0  # account seconds per real second (600: an hour in 6 s)
    others_share: float = 0.0  # share of each window another integration spends (0..1)
    db_path: str = ":memory:"  # or a SQLite file
    seed: int | None = None  # seeds fault injection so chaos runs repeat

    def __post_init__(self) -> None:
        if self.rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1, got {self.rate_limit}")
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {self.window_seconds}")
        if self.window_kind not in ("fixed", "sliding"):
            raise ValueError(f"window_kind must be fixed or sliding, got {self.window_kind!r}")
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {self.time_scale}")
        if not 0 <= self.others_share <= 1:
            raise ValueError(f"others_share must be from 0 to 1, got {self.others_share}")
        self.api_keys = tuple(self.api_keys)
        self.forbidden_keys = tuple(self.forbidden_keys)


#: The settings of the rate budget, which POST /_sandbox/budget may change at runtime.
BUDGET_KEYS = ("rate_limit", "window_seconds", "window_kind", "time_scale", "others_share")


def with_budget(settings: SandboxSettings, changes: dict[str, Any]) -> SandboxSettings:
    """``settings`` with the budget ``changes``; ValueError naming a bad key or value."""
    unknown = sorted(set(changes) - set(BUDGET_KEYS))
    if unknown:
        raise ValueError(f"unknown budget settings: {', '.join(unknown)} "
                         f"(known: {', '.join(BUDGET_KEYS)})")
    for key, value in changes.items():
        expected = {"rate_limit": (int,), "window_kind": (str,)}.get(key, (int, float))
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ValueError(f"{key} must be a {' or '.join(t.__name__ for t in expected)}, "
                             f"got {value!r}")
    return replace(settings, **changes)
