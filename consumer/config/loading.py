"""Reading the subscription file: YAML, ``${VAR}`` from the environment, validation, all at once.

Everything the service reads from the outside world at start-up comes through here: the file
and the environment variables it names with ``${VAR}`` (secrets live there, never in the file).
A problem is a :class:`~consumer.config.problems.ConfigError` naming the file, the key and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from consumer.config.checks import across_sections
from consumer.config.problems import ConfigError, Problem, problem_from
from consumer.config.root import Config
from consumer.config.yaml_file import read_yaml

__all__ = ["load_config", "parse_config"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
        raise ConfigError(path, [problem_from(err) for err in e.errors()]) from None
    if problems := across_sections(config):
        raise ConfigError(path, problems)
    return config


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the subscription file at ``path``."""
    p = Path(path)
    document = read_yaml(p)
    return parse_config(document, str(p), env)
