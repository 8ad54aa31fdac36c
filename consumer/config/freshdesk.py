"""The ``freshdesk:`` section: the account, its retries and its rate budget."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from consumer.config._section import _Section
from consumer.config.stores import check_redis_url, url_password

__all__ = ["BudgetSettings", "FreshdeskSettings", "RetrySettings"]


class RetrySettings(_Section):
    """Backoff for transient failures: 5xx answers, timeouts and dropped connections."""

    initial_backoff_s: float = Field(0.5, gt=0)
    max_backoff_s: float = Field(30.0, gt=0)
    # Full jitter (0..1): the share of each backoff drawn at random, so replicas that failed
    # together do not retry together.
    jitter: float = Field(1.0, ge=0, le=1)
    # Transient failures of one activity before it is dead-lettered as "retries exhausted".
    # 429 and halts never count: being throttled or misconfigured is not the activity's fault.
    max_attempts: int = Field(10, ge=1)
    # ... or this long after its first failure, whichever comes first (None: no age limit).
    max_age_s: float | None = Field(None, gt=0)
    # HTTP statuses that are worth sending again. Other 4xx/5xx are dead-lettered at once;
    # 401/403/404 halt and 429 waits whatever this says.
    statuses: frozenset[int] = frozenset({408, 500, 502, 503, 504})

    @model_validator(mode="after")
    def _sane_statuses(self) -> RetrySettings:
        odd = sorted(s for s in self.statuses if s in (200, 401, 403, 404, 429) or not 400 <= s < 600)
        if odd:
            raise ValueError(f"retry.statuses cannot contain {odd}: 2xx are delivered, "
                             "401/403/404 halt, 429 always waits Retry-After")
        return self


class BudgetSettings(_Section):
    """``freshdesk.budget``: how the consumer paces its calls to the account's rate budget."""

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
            check_redis_url(self.url, "freshdesk.budget.url")
        return self

    @property
    def url_password(self) -> str | None:
        """The password inside ``url`` (for logs.register_secret), if any."""
        return url_password(self.url)

    @property
    def fixed_window_s(self) -> float | None:
        return None if self.window_s == "auto" else float(self.window_s)


class FreshdeskSettings(_Section):
    domain: str | None = None  # "acme" or "acme.freshdesk.com"
    base_url: str | None = None  # instead of domain, e.g. the sandbox: http://127.0.0.1:8080
    api_key: SecretStr
    timeout_s: float = Field(10.0, gt=0)
    max_in_flight: int = Field(16, ge=1, le=512)  # concurrent requests to this account
    # The forward proxy to reach Freshdesk through, e.g. http://user:${PROXY_PASSWORD}@proxy:3128
    # (never logged). Unset: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment, as curl.
    proxy: SecretStr | None = None
    # The largest answer read; a larger one fails the attempt and drops the connection.
    max_answer_bytes: int = Field(1024 * 1024, ge=4096, le=64 * 1024 * 1024)
    # Freshdesk unreachable (refused, DNS, TLS, timeouts, 502/503/504): delivery waits and probes,
    # nothing is dead-lettered. Set this to dead-letter (reason "unavailable") what waited longer.
    give_up_after_s: float | None = Field(None, gt=0)
    halt_probe_interval_s: float = Field(30.0, gt=0)  # how often a halted consumer retries
    retry: RetrySettings = RetrySettings()
    budget: BudgetSettings = BudgetSettings()  # pacing to the account's rate budget

    @model_validator(mode="after")
    def _one_address(self) -> FreshdeskSettings:
        if (self.domain is None) == (self.base_url is None):
            raise ValueError("give exactly one of freshdesk.domain or freshdesk.base_url")
        if self.base_url is not None and not re.match(
            r"^(https://|http://(127\.0\.0\.1|localhost|\[::1\]|[a-z0-9.-]+\.test)(:\d+)?(/|$))",
            self.base_url
        ):
            raise ValueError(
                "base_url must be https://…, or http:// only for a local sandbox (127.0.0.1, "
                "localhost, or a .test name)"
            )
        if self.proxy is not None:
            scheme = urlsplit(self.proxy.get_secret_value()).scheme
            if scheme not in ("http", "https"):
                raise ValueError(f"freshdesk.proxy must start with http:// or https:// "
                                 f"(got {scheme or 'no scheme'})")
        return self

    @property
    def proxy_password(self) -> str | None:
        """The password inside ``proxy`` (for logs.register_secret), if any."""
        return url_password(self.proxy)

    @property
    def url(self) -> str:
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        domain = self.domain or ""
        host = domain if "." in domain else f"{domain}.freshdesk.com"
        return f"https://{host}"
