"""Pieces every sandbox tracker keeps in memory: a movable clock, id sequences, the store lock."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import UTC, datetime

from conduit.connectors import text


class Clock:
    """Wall-clock time plus an offset, so tests can jump past expiries instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Sequence:
    """Deterministic counters and tokens: the same calls on a fresh sandbox produce the same ids."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def next(self, name: str, start: int = 1) -> int:
        with self._lock:
            value = self._counters.get(name, start - 1) + 1
            self._counters[name] = value
            return value

    def token(self, prefix: str, length: int = 36) -> str:
        n = self.next(f"token:{prefix}")
        digest = hashlib.sha256(f"{self.seed}:{prefix}:{n}".encode()).hexdigest()
        return prefix + digest[:length]

    def guid(self, name: str) -> str:
        n = self.next(f"guid:{name}")
        digest = hashlib.sha256(f"{self.seed}:{name}:{n}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))


class Stamp:
    """`updated_at` values that strictly increase, even for two changes within one clock tick.

    Trackers show times to the second or to the millisecond; a change must still be visible as a
    change, so a stamp that would equal the previous one is pushed one unit forward.
    """

    def __init__(self, clock: Clock, resolution: float) -> None:
        self.clock = clock
        self.resolution = resolution
        self._last = 0.0
        self._lock = threading.Lock()

    def next(self) -> datetime:
        with self._lock:
            t = self.clock.time()
            t = t - (t % self.resolution)
            if t <= self._last:
                t = self._last + self.resolution
            self._last = t
            return datetime.fromtimestamp(t, UTC)


def parse_time(value: str) -> datetime:
    """Accept the ISO forms trackers use (`Z`, `+0000`, `+00:00`, date only); ValueError otherwise."""
    parsed = text.parse_time(value)
    if parsed is None:
        raise ValueError("no time given")
    return parsed
