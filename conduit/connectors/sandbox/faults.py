"""Faults injected at runtime into a sandbox tracker.

A fault applies to the tracker's own endpoints (never to `/_sandbox/...`), optionally only where `match`
is part of the path or equals the route name, for the next `count` calls, for a `fraction` of calls,
or for every call until cleared:

- `latency`      wait `ms` before answering (stacks with the others)
- `hold`         do what the call asks, then hold the answer `ms` (stacks): a client that gives up or
                 dies meanwhile never learns that the change was made
- `error`        answer `status` (default 503) in the tracker's error shape
- `rate_limit`   answer 429 with `Retry-After: retry_after` (and the tracker's rate-limit headers)
- `timeout`      hold the request for `seconds` (default 30) — longer than any sane client timeout
- `drop_webhooks` record outgoing webhooks as dropped instead of sending them (`match` = event name)

Revoking tokens is not a fault but a state change (a revoked grant stays revoked); see `oauth.py`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("latency", "hold", "error", "rate_limit", "timeout", "drop_webhooks")
TERMINAL = ("error", "rate_limit", "timeout")


class FaultError(ValueError):
    """A fault description that cannot be applied; the message says which field is wrong."""


@dataclass
class Fault:
    id: int
    kind: str
    match: str | None = None
    count: int | None = None
    fraction: float | None = None
    ms: int = 0
    status: int = 503
    retry_after: int = 1
    seconds: float = 30.0
    fired: int = field(default=0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(data: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"`{key}` must be a number, got {value!r}")
    return kind(value)


def parse_fault(fault_id: int, data: dict[str, Any]) -> Fault:
    kind = data.get("kind")
    if kind not in KINDS:
        raise FaultError(f"`kind` must be one of {', '.join(KINDS)}; got {kind!r}")
    unknown = set(data) - {"kind", "match", "count", "fraction", "ms", "status", "retry_after", "seconds"}
    if unknown:
        raise FaultError(f"unknown field(s) {sorted(unknown)} for a fault")
    match = data.get("match")
    if match is not None and not isinstance(match, str):
        raise FaultError("`match` must be a string (part of a path, a route name or an event name)")
    fault = Fault(
        id=fault_id,
        kind=kind,
        match=match,
        count=_number(data, "count", int, None),
        fraction=_number(data, "fraction", float, None),
        ms=_number(data, "ms", int, 0),
        status=_number(data, "status", int, 503),
        retry_after=_number(data, "retry_after", int, 1),
        seconds=_number(data, "seconds", float, 30.0),
    )
    if fault.count is not None and fault.count < 1:
        raise FaultError("`count` must be at least 1 (omit it for a fault that lasts until cleared)")
    if fault.fraction is not None and not 0 < fault.fraction <= 1:
        raise FaultError("`fraction` must be in (0, 1]")
    if kind == "error" and not 500 <= fault.status <= 599:
        raise FaultError("`status` of an error fault must be a 5xx code")
    if kind in ("latency", "hold") and fault.ms <= 0:
        raise FaultError(f"a {kind} fault needs `ms` > 0")
    return fault


@dataclass
class Decision:
    """What the faults say about one request: extra delay, then maybe a terminal fault, and how long
    its answer is held after the call is done."""

    delay_ms: int = 0
    terminal: Fault | None = None
    hold_ms: int = 0


class FaultSet:
    """The active faults of one sandbox; consulted by its middleware and its webhook sender."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._next_id = 0
        # A seeded generator keeps "a fraction of calls" reproducible from run to run.
        self._rng = random.Random(seed)

    def add(self, data: dict[str, Any]) -> Fault:
        with self._lock:
            self._next_id += 1
            fault = parse_fault(self._next_id, data)
            self._faults.append(fault)
            return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def _fires(self, fault: Fault) -> bool:
        if fault.fraction is not None and self._rng.random() >= fault.fraction:
            return False
        fault.fired += 1
        if fault.count is not None:
            fault.count -= 1
            if fault.count == 0:
                self._faults.remove(fault)
        return True

    def for_request(self, path: str, route_name: str | None) -> Decision:
        decision = Decision()
        with self._lock:
            for fault in list(self._faults):
                if fault.kind == "drop_webhooks":
                    continue
                if fault.match is not None and fault.match not in path and fault.match != route_name:
                    continue
                if fault.kind == "latency":
                    if self._fires(fault):
                        decision.delay_ms += fault.ms
                elif fault.kind == "hold":
                    if self._fires(fault):
                        decision.hold_ms += fault.ms
                elif decision.terminal is None and self._fires(fault):
                    decision.terminal = fault
        return decision

    def drops(self, event: str) -> bool:
        with self._lock:
            for fault in list(self._faults):
                if fault.kind != "drop_webhooks":
                    continue
                if fault.match is not None and fault.match != event:
                    continue
                if self._fires(fault):
                    return True
        return False
