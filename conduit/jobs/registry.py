"""Job kinds and their retry policy, declared where each job is registered.

Every handler is called the same way: `async def handler(ctx, *args)`, where `args` are the JSON values
the row was enqueued with (`conduit.jobs.outbox.enqueue`): ids wherever the subject has a row. The
domains declare their kinds in their own modules; importing a module registers what it declares. The
job system itself names no domain: the entry points import the domains' job modules
(conduit.wiring), and CONDUIT_JOBS_MODULES adds more (plugins, tests).
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

JobFunction = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    kind: str
    func: JobFunction
    max_tries: int = 5
    backoff_base: float = 2.0  # seconds before the second try; doubles each time
    backoff_cap: float = 600.0
    timeout: float = 60.0
    # Rows of an ordered kind must carry a key; rows sharing a key run one at a time, in order.
    ordered: bool = False

    def backoff(self, failed_tries: int) -> float:
        """Delay before the next try: exponential, capped, with jitter so retries don't stampede."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** max(failed_tries - 1, 0))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    kind: str
    every: float  # seconds


class Registry:
    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}
        self._periodic: dict[str, PeriodicSpec] = {}

    def add(self, spec: JobSpec) -> JobSpec:
        if spec.max_tries < 1:
            raise ValueError(f"job {spec.kind!r}: max_tries must be at least 1, got {spec.max_tries}")
        if spec.timeout <= 0 or spec.backoff_base < 0 or spec.backoff_cap < 0:
            raise ValueError(f"job {spec.kind!r}: timeout must be positive and backoff not negative")
        existing = self._jobs.get(spec.kind)
        if existing is not None and existing.func is not spec.func:
            raise ValueError(f"job kind {spec.kind!r} is already registered to {existing.func!r}")
        self._jobs[spec.kind] = spec
        return spec

    def job(
        self,
        kind: str,
        *,
        max_tries: int = 5,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        timeout: float = 60.0,
        ordered: bool = False,
    ) -> Callable[[JobFunction], JobFunction]:
        """Register `async def fn(ctx, *ids)` as the handler of `kind`."""

        def decorate(fn: JobFunction) -> JobFunction:
            self.add(JobSpec(kind, fn, max_tries, backoff_base, backoff_cap, timeout, ordered))
            return fn

        return decorate

    def periodic(self, name: str, kind: str, every: float | timedelta) -> PeriodicSpec:
        """Run `kind` about every `every`, once across all processes (see conduit.jobs.periodic)."""
        seconds = every.total_seconds() if isinstance(every, timedelta) else float(every)
        if seconds <= 0:
            raise ValueError(f"periodic job {name!r}: interval must be positive, got {seconds}")
        spec = PeriodicSpec(name, kind, seconds)
        self._periodic[name] = spec
        return spec

    def get(self, kind: str) -> JobSpec | None:
        return self._jobs.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._jobs)

    def specs(self) -> list[JobSpec]:
        return list(self._jobs.values())

    def periodic_jobs(self) -> list[PeriodicSpec]:
        return list(self._periodic.values())

    @property
    def max_timeout(self) -> float:
        return max((s.timeout for s in self._jobs.values()), default=60.0)


# The process-wide registry; job modules register into it when imported.
registry = Registry()
job = registry.job


def load(modules: Iterable[str]) -> None:
    """Import modules by name, so the kinds they declare are registered (CONDUIT_JOBS_MODULES)."""
    for name in modules:
        importlib.import_module(name)
