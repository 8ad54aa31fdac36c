"""How one sandbox account is configured: its API keys, its rate budget, its storage."""

from __future__ import annotations

from dataclasses import dataclass

#: Enterprise plan budget (calls per minute), the highest Freshdesk sells.
DEFAULT_RATE_LIMIT = 700
DEFAULT_WINDOW_SECONDS = 60.0


@dataclass
class SandboxSettings:
    """One emulated Freshdesk account.

    The rate budget is per account (all keys together), as Freshdesk counts it;
    tests shrink it (e.g. 10 calls per 2 s) to reach 429 quickly.
    """

    api_keys: tuple[str, ...] = ("sandbox-key",)  # accepted keys
    forbidden_keys: tuple[str, ...] = ()  # keys answered with 403 access_denied
    rate_limit: int = DEFAULT_RATE_LIMIT  # calls per window, per account
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    db_path: str = ":memory:"  # or a SQLite file
    seed: int | None = None  # seeds fault injection so chaos runs repeat

    def __post_init__(self) -> None:
        if self.rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1, got {self.rate_limit}")
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {self.window_seconds}")
        self.api_keys = tuple(self.api_keys)
        self.forbidden_keys = tuple(self.forbidden_keys)
