"""Reading a subscription file's YAML strictly: a file is small, UTF-8, and says each thing once.

PyYAML's safe loader with four bounds, each a :class:`~consumer.config.problems.Problem` naming
where and what to do instead of a traceback:

- the file is at most :data:`MAX_BYTES` (a subscription file is a few KB; a 100 MB one took 88 s
  and 1 GB before this bound);
- it is UTF-8 (the offset of the first byte that is not is named);
- a key appears once per mapping (both lines are named: YAML would silently keep the last);
- aliases (``*name``) are allowed, but the document they expand to is at most
  :data:`MAX_VALUES` values, counted while it is composed: a 1 KB "billion laughs" file stops
  here in milliseconds instead of exhausting memory in the ``${VAR}`` walk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from consumer.config.problems import ConfigError, Problem

__all__ = ["MAX_BYTES", "MAX_VALUES", "read_yaml"]

MAX_BYTES = 1024 * 1024
MAX_VALUES = 100_000


class _TooLarge(Exception):
    pass


class _Duplicate(Exception):
    def __init__(self, key: str, first: int, again: int):
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _Duplicate(str(key), seen[key], key_node.start_mark.line + 1)
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: the base class says so
                break
        return super().construct_mapping(node, deep=deep)


def _values(node: Node, budget: list[int], seen: dict[int, int]) -> int:
    """How many values ``node`` expands to (aliases counted at every use), stopping at the
    budget: a node reached again through an alias costs its whole size again."""
    if id(node) in seen:
        size = seen[id(node)]
    elif isinstance(node, MappingNode):
        size = 1 + sum(_values(k, budget, seen) + _values(v, budget, seen) for k, v in node.value)
        seen[id(node)] = size
        return size
    elif isinstance(node, SequenceNode):
        size = 1 + sum(_values(item, budget, seen) for item in node.value)
        seen[id(node)] = size
        return size
    else:
        size = 1
    budget[0] -= size
    if budget[0] < 0:
        raise _TooLarge
    return size


def read_yaml(path: Path) -> Any:
    """The parsed document, or ConfigError naming the file, where, and the fix."""
    def problem(message: str, fix: str) -> ConfigError:
        return ConfigError(path, [Problem(key="", message=message, fix=fix)])

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise problem(f"{size:,} bytes: a subscription file is at most {MAX_BYTES:,}",
                          "is this the right file? Mappings go in their own .jsonata files")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise problem("file not found", "pass --config with the path of your subscription file "
                                        "(examples/subscriptions.yaml is a starting point)") from None
    except OSError as e:
        raise problem(f"cannot read it: {e.strerror}", "check the path and its permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise problem(f"not UTF-8: byte {raw[e.start]:#04x} at offset {e.start} (line {line})",
                      "save the file as UTF-8") from None
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _values(root, [MAX_VALUES], {})
        return loader.construct_document(root)
    except _TooLarge:
        raise problem(f"the document expands to more than {MAX_VALUES:,} values (YAML aliases "
                      "used again and again?)", "write the values out, or use fewer aliases") from None
    except _Duplicate as e:
        raise problem(f"key {e.key!r} appears twice in one mapping: line {e.first} and line "
                      f"{e.again} (YAML keeps only the last)", "keep one of them") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        what = getattr(e, "problem", None) or str(e)
        raise problem(f"not valid YAML at {where}: {what}",
                      "fix the indentation or quoting there (tabs are not allowed in YAML)") from None
    finally:
        loader.dispose()
