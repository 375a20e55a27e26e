"""What a job raises to steer its own retries.

Exception                 any other error: retried with backoff until the kind's max_tries
├── Retry(defer)          run again after `defer` seconds (a tracker's Retry-After); counts as a try
└── PermanentFailure      stop now: the row is dead with this reason
"""

from __future__ import annotations

from datetime import timedelta


class Retry(Exception):
    """Ask to be run again after a given delay, e.g. what a rate-limited API said to wait."""

    def __init__(self, defer: float | timedelta | None = None, reason: str = "retry requested") -> None:
        seconds = defer.total_seconds() if isinstance(defer, timedelta) else defer
        if seconds is not None and seconds < 0:
            raise ValueError(f"Retry defer must not be negative, got {seconds}")
        self.defer = seconds
        super().__init__(reason if seconds is None else f"{reason} (in {seconds:g}s)")


class PermanentFailure(Exception):
    """The work cannot succeed by trying again (bad credentials, deleted target): mark it dead at once."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
