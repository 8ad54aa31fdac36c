"""``freshdesk.budget``: how the consumer paces its calls to the account's rate budget."""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, model_validator

from consumer._section import _Section

__all__ = ["BudgetSettings"]


class BudgetSettings(_Section):
    # local: each replica paces on the headers alone (it sees the other replicas as "someone
    # else spending" and converges more slowly). redis: every replica takes its calls from one
    # account-wide schedule in Redis. Redis away: local pacing with a warning, never a stop.
    backend: Literal["local", "redis"] = "local"
    # redis://… for backend redis. Left out: the ledger's url (ledger.backend must then be redis).
    url: SecretStr | None = None
    prefix: str = "fdac:budget:"  # key prefix in Redis; the account's host is appended
    # The account's window: auto (learnt from the headers, 60 s until they say otherwise), or
    # its length in seconds when known (60 for most plans, 3600 for hourly accounts).
    window_s: Literal["auto"] | float = "auto"
    # Share of the account's budget left for its other users (other integrations, agents' apps).
    # When they are seen spending more, the consumer leaves them what they spend.
    reserve: float = Field(0.10, ge=0, lt=1)
    timeout_s: float = Field(0.5, gt=0)  # backend redis: per call; then local pacing for a while
    # The replica label of the budget metrics; default: the host name (the pod's name).
    replica: str | None = Field(None, min_length=1, max_length=63)

    @model_validator(mode="after")
    def _fits(self) -> BudgetSettings:
        if isinstance(self.window_s, float | int) and not 1 <= self.window_s <= 86400:
            raise ValueError(f"freshdesk.budget.window_s must be auto or 1..86400 seconds, "
                             f"got {self.window_s}")
        if self.url is not None:
            if self.backend != "redis":
                raise ValueError("freshdesk.budget.url is only read with backend: redis")
            scheme = urlsplit(self.url.get_secret_value()).scheme
            if scheme not in ("redis", "rediss", "unix"):
                raise ValueError(f"freshdesk.budget.url must start with redis://, rediss:// or "
                                 f"unix:// (got {scheme or 'no scheme'})")
        return self

    @property
    def url_password(self) -> str | None:
        """The password inside ``url`` (for logs.register_secret), if any."""
        if self.url is None:
            return None
        password = urlsplit(self.url.get_secret_value()).password
        return unquote(password) if password else None

    @property
    def fixed_window_s(self) -> float | None:
        return None if self.window_s == "auto" else float(self.window_s)
