"""The subscription file: one YAML document that configures a consumer, read once at start-up.

Every section's settings live in this package, and it imports nothing else of the service, so
any module may read its settings from here without pulling in the machinery that uses them.
``load_config(path)`` gives a frozen :class:`Config` or raises :class:`ConfigError`, which names
the file, the key and the fix for every problem found.
"""

from consumer.config.freshdesk import BudgetSettings, FreshdeskSettings, RetrySettings
from consumer.config.inputs import SchemaRegistrySettings
from consumer.config.loading import load_config, parse_config
from consumer.config.pipeline import (
    BreakerSettings,
    DeadLetterSettings,
    LogSettings,
    MetricsSettings,
    ProcessingSettings,
    Subscription,
)
from consumer.config.problems import ConfigError, Problem
from consumer.config.root import Config
from consumer.config.stores import ContactSettings, LedgerSettings, directory_url

__all__ = [
    "BreakerSettings",
    "BudgetSettings",
    "Config",
    "ConfigError",
    "ContactSettings",
    "DeadLetterSettings",
    "FreshdeskSettings",
    "LedgerSettings",
    "LogSettings",
    "MetricsSettings",
    "Problem",
    "ProcessingSettings",
    "RetrySettings",
    "SchemaRegistrySettings",
    "Subscription",
    "directory_url",
    "load_config",
    "parse_config",
]
