"""What is wrong with a subscription file, said so that an operator can fix it without a traceback."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ConfigError", "Problem", "problem_from"]


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


_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove it, or check its spelling against the README's configuration table",
    "greater_than": "use a larger number",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
    "too_short": "add at least one entry",
    "literal_error": "use one of the values named above",
}


def problem_from(err: Any) -> Problem:
    """A Problem from one of pydantic's ValidationError.errors()."""
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    kind = err["type"]
    msg = err["msg"].removeprefix("Value error, ")
    fix = _FIXES.get(kind, "correct the value")
    if kind == "value_error":
        fix = "see the message; the README's configuration section has an example"
    return Problem(key=loc, message=msg, fix=fix)
