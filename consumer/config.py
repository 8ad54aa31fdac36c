"""The subscription file: one YAML document that configures a consumer.

Everything the service reads from the outside world comes through here, once, at start-up:
the file itself and the environment variables it names with ``${VAR}`` (secrets live there,
never in the file). A problem is reported as a :class:`ConfigError` that names the file, the
key and the fix, so an operator never has to read a traceback to find a typo.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from consumer._section import _Section
from consumer.breaker import BreakerSettings
from consumer.budget.settings import BudgetSettings
from consumer.directory.settings import ContactSettings, directory_url
from consumer.health import MetricsSettings
from consumer.ledger import LedgerSettings

__all__ = ["Config", "ConfigError", "Problem", "load_config", "parse_config"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# librdkafka keys whose values are secrets: redacted wherever the settings are shown.
_SECRET_KAFKA_KEYS = re.compile(r"password|secret|sasl\.oauthbearer\.config|ssl\.key\.pem", re.I)


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    message: str
    fix: str

    def render(self, path: str) -> str:
        where = f"{path}: {self.key}" if self.key else path
        return f"{where}: {self.message}\n    fix: {self.fix}"


class ConfigError(Exception):
    """The subscription file cannot be used; ``str()`` explains every problem found."""

    def __init__(self, path: str | os.PathLike[str], problems: list[Problem]):
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(p.render(self.path) for p in problems))


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


class FreshdeskSettings(_Section):
    domain: str | None = None  # "acme" or "acme.freshdesk.com"
    base_url: str | None = None  # instead of domain, e.g. the sandbox: http://127.0.0.1:8080
    api_key: SecretStr
    timeout_s: float = Field(10.0, gt=0)
    max_in_flight: int = Field(16, ge=1, le=512)  # concurrent requests to this account
    # The HTTP client under the posts. "http1": consumer/http1.py, a keep-alive pool on asyncio
    # Protocols and httptools (a fraction of aiohttp's CPU per POST, bench/http_client.py).
    # "aiohttp": a bare aiohttp session. Both give the same answers, timeouts and errors.
    http_engine: Literal["http1", "aiohttp"] = "http1"
    halt_probe_interval_s: float = Field(30.0, gt=0)  # how often a halted consumer retries
    retry: RetrySettings = RetrySettings()
    budget: BudgetSettings = BudgetSettings()  # pacing to the account's rate budget

    @model_validator(mode="after")
    def _one_address(self) -> FreshdeskSettings:
        if (self.domain is None) == (self.base_url is None):
            raise ValueError("give exactly one of freshdesk.domain or freshdesk.base_url")
        if self.base_url is not None and not re.match(
            r"^(https://|http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$))", self.base_url
        ):
            raise ValueError(
                "base_url must be https://…, or http:// only for a local sandbox (127.0.0.1)"
            )
        return self

    @property
    def url(self) -> str:
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        domain = self.domain or ""
        host = domain if "." in domain else f"{domain}.freshdesk.com"
        return f"https://{host}"


class ProcessingSettings(_Section):
    # Messages taken from Kafka and not yet settled. Above it partitions are paused
    # (backpressure) so memory stays bounded whatever Freshdesk does.
    max_pending_messages: int = Field(1000, ge=1)
    commit_interval_s: float = Field(1.0, gt=0)  # commit at most this often ...
    commit_every_messages: int = Field(1000, ge=1)  # ... or after this many settled messages
    drain_timeout_s: float = Field(20.0, gt=0)  # SIGTERM / revoke: time to finish in-flight work
    # SIGTERM, after the drain and the final commit: time allowed to leave the group. librdkafka's
    # close can wait on a coordinator that never answers; past this the process exits anyway
    # (nothing is lost: offsets are committed, the group moves the partitions after
    # session.timeout.ms). Pod grace period ≥ drain_timeout_s + close_timeout_s + a few seconds.
    close_timeout_s: float = Field(30.0, gt=0)
    poll_timeout_s: float = Field(0.1, gt=0, le=5)


class DeadLetterSettings(_Section):
    # Where a message that cannot become an activity goes, with its reason in headers.
    # "{topic}" is the message's own topic.
    topic: str = "{topic}.dlq"
    # A bad deploy halts instead of draining a whole topic into its dead-letter topic.
    breaker: BreakerSettings = BreakerSettings()

    def topic_for(self, topic: str) -> str:
        return self.topic.replace("{topic}", topic)


class Subscription(_Section):
    # A topic name, or a regex when it starts with "^" (librdkafka's convention).
    topic: str = Field(min_length=1)
    # A built-in transform name ("orders", "payments") or "package.module:function".
    transform: str = Field(min_length=1)
    # true: the topic only feeds the contact directory (e.g. a compacted customers topic): the
    # Links its events teach are learned, and nothing of it is ever posted.
    learn_only: bool = False

    @property
    def is_pattern(self) -> bool:
        return self.topic.startswith("^")


class LogSettings(_Section):
    format: Literal["json", "text"] = "json"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(_Section):
    # Any librdkafka consumer setting passes through; bootstrap.servers and group.id are required.
    kafka: dict[str, str | int | float | bool]
    freshdesk: FreshdeskSettings
    processing: ProcessingSettings = ProcessingSettings()
    dead_letter: DeadLetterSettings = DeadLetterSettings()
    log: LogSettings = LogSettings()
    ledger: LedgerSettings = LedgerSettings()  # idempotency: what was already delivered
    metrics: MetricsSettings = MetricsSettings()  # /metrics, /healthz, /readyz
    contacts: ContactSettings = ContactSettings()  # the contact directory and the waiting room
    subscriptions: list[Subscription] = Field(min_length=1)

    @model_validator(mode="after")
    def _kafka_basics(self) -> Config:
        missing = [k for k in ("bootstrap.servers", "group.id") if not self.kafka.get(k)]
        if missing:
            raise ValueError(f"kafka needs {' and '.join(missing)}")
        return self

    def kafka_for_display(self) -> dict[str, Any]:
        """The Kafka settings with secrets replaced, for logs and errors."""
        return {k: ("***" if _SECRET_KAFKA_KEYS.search(k) else v) for k, v in self.kafka.items()}

    def __repr__(self) -> str:  # never show SASL passwords, even in a debugger
        return f"Config(kafka={self.kafka_for_display()!r}, subscriptions={self.subscriptions!r})"

    __str__ = __repr__


# --- loading --------------------------------------------------------------------------------

_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove it, or check its spelling against the README's configuration table",
    "greater_than": "use a larger number",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
    "too_short": "add at least one entry",
    "literal_error": "use one of the values named above",
}


def _interpolate(node: Any, path: str, env: Mapping[str, str], problems: list[Problem]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of the document."""
    if isinstance(node, dict):
        return {
            k: _interpolate(v, f"{path}.{k}" if path else str(k), env, problems)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]", env, problems) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def replace(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(
            Problem(
                key=path,
                message=f"environment variable {name} is not set",
                fix=f"export {name}=… before starting (secrets belong in the environment, "
                f"not in the file), or write ${{{name}:-default}}",
            )
        )
        return ""

    return _ENV_REF.sub(replace, node)


def _problem_from(err: Any) -> Problem:
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    kind = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    fix = _FIXES.get(kind, "correct the value")
    if kind == "value_error":
        fix = "see the message; the README's configuration section has an example"
    return Problem(key=loc, message=msg, fix=fix)


def parse_config(
    document: Any, path: str = "<config>", env: Mapping[str, str] | None = None
) -> Config:
    """Validate an already-parsed YAML document."""
    env = os.environ if env is None else env
    if not isinstance(document, dict):
        raise ConfigError(
            path,
            [Problem(key="", message="the file is not a YAML mapping",
                     fix="start from the example in the README (kafka:, freshdesk:, subscriptions:)")],
        )
    problems: list[Problem] = []
    document = _interpolate(document, "", env, problems)
    if problems:
        raise ConfigError(path, problems)
    try:
        config = Config.model_validate(document)
    except ValidationError as e:
        raise ConfigError(path, [_problem_from(err) for err in e.errors()]) from None
    if problems := _across_sections(config):
        raise ConfigError(path, problems)
    return config


def _across_sections(config: Config) -> list[Problem]:
    """Settings that are each valid but wrong together."""
    problems = []
    lease, timeout = config.ledger.lease_s, config.freshdesk.timeout_s
    if config.ledger.backend == "redis" and lease <= timeout:
        problems.append(Problem(
            key="ledger.lease_s",
            message=f"{lease:g} s is not longer than freshdesk.timeout_s ({timeout:g} s): another "
                    "replica could claim a key while its request is still on the wire and post "
                    "it a second time",
            fix=f"set ledger.lease_s well above {timeout:g} (the default, 60, is six default "
                "request timeouts), or lower freshdesk.timeout_s"))
    budget = config.freshdesk.budget
    if budget.backend == "redis" and budget.url is None and config.ledger.backend != "redis":
        problems.append(Problem(
            key="freshdesk.budget.url",
            message="backend redis needs a Redis: this key is not set and the ledger is not in "
                    "Redis (ledger.backend: memory), so there is no url to share",
            fix="set freshdesk.budget.url: ${BUDGET_REDIS_URL} (redis://host:6379/0), or use the "
                "ledger's Redis (ledger.backend: redis with ledger.url), or backend: local"))
    problems += _contact_problems(config)
    return problems


def _contact_problems(config: Config) -> list[Problem]:
    contacts, ledger = config.contacts, config.ledger
    problems = []
    if contacts.bootstrap_file is not None and not contacts.bootstrap_file.is_file():
        problems.append(Problem(
            key="contacts.bootstrap_file",
            message=f"{contacts.bootstrap_file} is not a file (a relative path is from the "
                    f"working directory, {Path.cwd()})",
            fix="give the path of a JSON Lines file of customers, or remove the key"))
    if contacts.backend != "redis":
        return problems
    url = directory_url(contacts, ledger)
    if url is None:
        return [*problems, Problem(
            key="contacts.url",
            message="backend redis needs a Redis, and there is no ledger.url to share "
                    "(ledger.backend is memory)",
            fix="set contacts.url: ${CONTACTS_REDIS_URL} (redis://host:6379/0), or use "
                "ledger.backend: redis, whose url the directory then shares")]
    same_redis = ledger.backend == "redis" and ledger.url is not None and (
        ledger.url.get_secret_value() == url.get_secret_value())
    a, b = contacts.prefix, ledger.prefix
    if same_redis and (a.startswith(b) or b.startswith(a)):
        problems.append(Problem(
            key="contacts.prefix",
            message=f"{a!r} overlaps ledger.prefix {b!r} in the same Redis: contact refs and "
                    "activity keys look alike (stripe:…) and would overwrite each other",
            fix="use a prefix that neither starts with nor is the start of ledger.prefix, "
                "e.g. the default fdac-contacts:"))
    return problems


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the subscription file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            p, [Problem(key="", message="file not found",
                        fix="pass --config with the path of your subscription file "
                            "(examples/subscriptions.yaml is a starting point)")]
        ) from None
    except OSError as e:
        raise ConfigError(p, [Problem(key="", message=f"cannot read it: {e.strerror}",
                                      fix="check the path and its permissions")]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        what = getattr(e, "problem", None) or str(e)
        raise ConfigError(
            p, [Problem(key="", message=f"not valid YAML at {where}: {what}",
                        fix="fix the indentation or quoting there (tabs are not allowed in YAML)")]
        ) from None
    return parse_config(document, str(p), env)
