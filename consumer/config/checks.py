"""Settings that are each valid but wrong together."""

from __future__ import annotations

from pathlib import Path

from consumer.config.problems import Problem
from consumer.config.root import Config
from consumer.config.stores import directory_url

__all__ = ["across_sections"]


def across_sections(config: Config) -> list[Problem]:
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
    if config.schema_registry is None:
        problems += [Problem(
            key=f"subscriptions[{i}].format",
            message=f"format {sub.format} / key_format {sub.key_format} reads schemas from a "
                    "Schema Registry, and there is no schema_registry section",
            fix="add schema_registry: {url: http://registry:8081} (Apicurio: …/apis/ccompat/v7)")
            for i, sub in enumerate(config.subscriptions) if sub.needs_registry]
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
