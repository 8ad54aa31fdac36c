"""The account budget: paces calls to one Freshdesk account so its rate budget is spent, not tripped over.

``make_budget(config.freshdesk, config.ledger)`` builds it from the subscription file; the
delivery loop calls ``await wait()`` before each call, ``observe()`` after each answer,
``throttle()`` on a 429 and ``aclose()`` at shutdown. See pacer.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from consumer.config import BudgetSettings
from consumer.delivery.budget.pacer import AccountBudget
from consumer.delivery.budget.shared import SharedSchedule
from consumer.metrics import METRICS, Metrics

if TYPE_CHECKING:
    from consumer.config import FreshdeskSettings, LedgerSettings

__all__ = ["AccountBudget", "BudgetSettings", "make_budget"]


def make_budget(freshdesk: FreshdeskSettings, ledger: LedgerSettings, metrics: Metrics = METRICS,
                on_store: Callable[[str | None], None] = lambda why: None) -> AccountBudget:
    """The budget ``freshdesk.budget`` describes; with backend redis its url, or else the ledger's
    (config validation makes sure one of them is there)."""
    settings = freshdesk.budget
    shared = None
    if settings.backend == "redis":
        url = settings.url or ledger.url
        assert url is not None, "check_config: freshdesk.budget.url or a redis ledger"
        account = urlsplit(freshdesk.url).netloc  # one schedule per account, whatever the replica
        shared = SharedSchedule(url.get_secret_value(), account, prefix=settings.prefix,
                                timeout_s=settings.timeout_s)
    return AccountBudget(settings, shared=shared, metrics=metrics, on_store=on_store)
