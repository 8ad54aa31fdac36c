"""Faults injected in front of the API, so tests can prove the consumer survives them.

They stand for trouble between the consumer and Freshdesk's application (load balancer
5xx, a stalled backend, a reset connection), so a faulted answer stores nothing and does
not spend the account budget. `slow` and scripted `delay` hold the request back, then:
- `slow` is a request queued in front of Freshdesk: if the client is still waiting it is
  handled normally; if the client gave up (its timeout) it is dropped unprocessed;
- `delay` is handled and stored whatever the client did, which is exactly how a client that
  gives up early ends up creating a duplicate (no client can tell, without an idempotency key).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["error", "rate_limit", "drop", "slow", "delay"]


@dataclass
class Fault:
    """What to do to one request instead of (or before) answering it normally."""

    kind: FaultKind
    status: int | None = None  # error / rate_limit: the status to answer
    retry_after: int | None = None  # rate_limit: the Retry-After to send
    seconds: float = 0.0  # slow / delay: how long to hold the answer


@dataclass
class FaultSettings:
    error_rate: float = 0.0  # share of requests answered `error_status`
    error_status: int = 503
    slow_rate: float = 0.0  # share of requests held `slow_seconds`, then handled
    slow_seconds: float = 0.0
    drop_rate: float = 0.0  # share of connections aborted without an answer
    script: list[dict[str, Any]] = field(default_factory=list)  # one-shot answers, in order


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _status(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        raise ValueError(f"{name} must be an HTTP error status (400-599), got {value!r}")
    return value


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _script_entry(entry: Any) -> dict[str, Any]:
    """Check one scripted answer: exactly one of status / drop / delay."""
    if not isinstance(entry, dict):
        raise ValueError(f"script entries must be objects, got {entry!r}")
    actions = [key for key in ("status", "drop", "delay") if key in entry]
    unknown = set(entry) - {"status", "retry_after", "drop", "delay"}
    if len(actions) != 1 or unknown or ("retry_after" in entry and "status" not in entry):
        raise ValueError(f"script entry needs exactly one of status (with optional "
                         f"retry_after), drop or delay; got {entry!r}")
    if "status" in entry:
        _status("script status", entry["status"])
        if "retry_after" in entry and (not isinstance(entry["retry_after"], int)
                                       or entry["retry_after"] < 0):
            raise ValueError(f"retry_after must be whole seconds >= 0, got {entry!r}")
    if "drop" in entry and entry["drop"] is not True:
        raise ValueError(f"drop must be true, got {entry!r}")
    if "delay" in entry:
        _seconds("delay", entry["delay"])
    return dict(entry)


class FaultInjector:
    """Decides, request by request, which fault (if any) to inject. Not thread-safe:
    the app touches it from its event loop only."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self.settings = FaultSettings()
        self.injected: Counter[str] = Counter()

    def configure(self, **faults: Any) -> None:
        """Change the given settings, keep the others; `script` replaces the pending one.
        Raises ValueError naming the bad key, and changes nothing then."""
        unknown = set(faults) - set(asdict(FaultSettings())) - {"seed"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        checked: dict[str, Any] = {}
        for name, value in faults.items():
            if name.endswith("_rate"):
                checked[name] = _rate(name, value)
            elif name == "error_status":
                checked[name] = _status(name, value)
            elif name == "slow_seconds":
                checked[name] = _seconds(name, value)
            elif name == "script":
                if not isinstance(value, list):
                    raise ValueError(f"script must be a list, got {value!r}")
                checked[name] = [_script_entry(entry) for entry in value]
            elif name == "seed" and not (value is None or isinstance(value, int)):
                raise ValueError(f"seed must be an integer or null, got {value!r}")
        if "seed" in faults:
            self._random = random.Random(faults["seed"])
        for name, value in checked.items():
            setattr(self.settings, name, value)

    def clear(self) -> None:
        """No faults, counters back to zero (the random sequence carries on)."""
        self.settings = FaultSettings()
        self.injected.clear()

    def _draw(self, rate: float) -> bool:
        # Draw only for switched-on faults, so enabling one kind never shifts another's dice.
        return rate > 0 and self._random.random() < rate

    def next_fault(self) -> Fault | None:
        """The fault for the next API request: the script first, then the dice."""
        fault = self._scripted() if self.settings.script else self._rolled()
        if fault is not None:
            self.injected[fault.kind] += 1
        return fault

    def _scripted(self) -> Fault:
        entry = self.settings.script.pop(0)
        if "drop" in entry:
            return Fault("drop")
        if "delay" in entry:
            return Fault("delay", seconds=float(entry["delay"]))
        status = entry["status"]
        if status == 429:
            return Fault("rate_limit", status=429, retry_after=entry.get("retry_after", 1))
        return Fault("error", status=status, retry_after=entry.get("retry_after"))

    def _rolled(self) -> Fault | None:
        s = self.settings
        if self._draw(s.drop_rate):
            return Fault("drop")
        if self._draw(s.error_rate):
            return Fault("error", status=s.error_status)
        if self._draw(s.slow_rate):
            return Fault("slow", seconds=s.slow_seconds)
        return None

    def describe(self) -> dict[str, Any]:
        """Current settings, the script still pending, and faults injected by kind."""
        kinds = ("error", "rate_limit", "drop", "slow", "delay")
        return {**asdict(self.settings), "injected": {k: self.injected[k] for k in kinds}}
