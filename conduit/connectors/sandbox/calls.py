"""The log of calls a sandbox tracker received: what tests count (e.g. how many token refreshes)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

MAX_CALLS = 20_000


@dataclass
class Call:
    seq: int
    method: str
    path: str
    route: str | None
    endpoint: str
    status: int
    fault: str | None
    delay_ms: int
    duration_ms: float


class CallLog:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._seq = 0
        self._lock = threading.Lock()

    def record(
        self,
        method: str,
        path: str,
        route: str | None,
        template: str,
        status: int,
        fault: str | None,
        delay_ms: int,
        duration_ms: float,
    ) -> None:
        with self._lock:
            self._seq += 1
            self._calls.append(
                Call(
                    self._seq,
                    method,
                    path,
                    route,
                    f"{method} {template}",
                    status,
                    fault,
                    delay_ms,
                    duration_ms,
                )
            )
            if len(self._calls) > MAX_CALLS:
                # Old entries go, counts of what remains stay exact; `seq` still shows the total.
                del self._calls[: len(self._calls) - MAX_CALLS]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def snapshot(self, limit: int = 200) -> dict[str, Any]:
        with self._lock:
            calls = list(self._calls)
        return {
            "total": len(calls),
            "by_route": dict(Counter(c.route or "<unrouted>" for c in calls)),
            "by_endpoint": dict(Counter(c.endpoint for c in calls)),
            "by_status": {str(k): v for k, v in Counter(c.status for c in calls).items()},
            "calls": [asdict(c) for c in calls[-limit:]] if limit else [],
        }
