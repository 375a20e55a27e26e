"""Running one outbox row: the single code path both runners (arq and embedded) go through."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from conduit import metrics, tracing
from conduit.db.base import utcnow
from conduit.db.models import OutboxState
from conduit.jobs import claims
from conduit.jobs.batching import Batcher
from conduit.jobs.config import JobsSettings
from conduit.jobs.context import JobContext, JobLog, job_log
from conduit.jobs.errors import PermanentFailure, Retry
from conduit.jobs.outbox import ARGS
from conduit.jobs.registry import JobSpec, Registry
from conduit.jobs.writes import TRANSIENT_DB_ERRORS, DatabaseUnavailable, Writer, describe, patiently
from conduit.runtime import Runtime

__all__ = ["DatabaseUnavailable", "Executor", "describe"]

log = logging.getLogger("conduit.jobs.executor")
# How long a stopping process spends handing interrupted runs back, and finishing the write under way.
# Past that, leases bring the rows back (the sweeper), or the next start does (SQLite).
STOP_SECONDS = 3.0
# A couple of milliseconds of latency per job buys bookkeeping statements shared by several jobs.
BATCH_WINDOW = 0.002
GIVE_BACK_FAILURES: tuple[type[BaseException], ...] = (
    TimeoutError,
    asyncio.CancelledError,
    *TRANSIENT_DB_ERRORS,
)
# The `state` label of conduit_jobs_total for each state a run settles in.
SETTLED_AS = {OutboxState.DONE: "done", OutboxState.DEAD: "dead", OutboxState.PENDING: "retry"}


class Executor:
    def __init__(
        self,
        runtime: Runtime,
        settings: JobsSettings,
        registry: Registry,
        *,
        resources: dict[str, Any] | None = None,
        on_settled: Callable[[], None] | None = None,
        db_patience: float = 30.0,
        writer: Writer | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.registry = registry
        self.resources = resources if resources is not None else {}
        self.on_settled = on_settled
        self.db_patience = db_patience
        self.writer = writer or Writer(runtime)
        self._starts: Batcher[int, claims.Run | None] = Batcher(self._start_batch, window=BATCH_WINDOW)
        self._outcomes: Batcher[tuple[claims.Run, dict[str, Any]], None] = Batcher(
            self._record_batch, window=BATCH_WINDOW
        )

    async def _start_batch(self, ids: Sequence[int]) -> list[claims.Run | None]:
        grace = self.settings.lease_grace_seconds
        leases = {s.kind: timedelta(seconds=s.timeout + grace) for s in self.registry.specs()}
        # A kind this process does not know is marked dead at once; a short lease suffices.
        default = timedelta(seconds=grace)

        async def start() -> dict[int, claims.Run]:
            async with self.writer.statements() as conn:
                return await claims.start_runs(conn, sorted(set(ids)), utcnow(), leases, default)

        runs = await patiently(start, self.db_patience)
        # The same id twice in one batch (a double hand-over) still yields a single run.
        return [runs.pop(row_id, None) for row_id in ids]

    async def _write_outcomes(self, outcomes: Sequence[tuple[claims.Run, dict[str, Any]]]) -> None:
        async with self.writer.statements() as conn:
            await claims.finish_many(conn, outcomes)

    async def _record_batch(self, outcomes: Sequence[tuple[claims.Run, dict[str, Any]]]) -> list[None]:
        await patiently(lambda: self._write_outcomes(outcomes), self.db_patience)
        return [None] * len(outcomes)

    async def close(self) -> None:
        """Finish the bookkeeping write under way, briefly; runs still waiting on one are given up."""
        await self._starts.close(STOP_SECONDS)
        await self._outcomes.close(STOP_SECONDS)

    async def run(self, row_id: int) -> OutboxState | None:
        """Run the row if it is still queued; return the state it settled in, or None if skipped."""
        run = await self._starts.submit(row_id)
        if run is None:
            log.debug("job=%s skipped: not queued (already taken or finished)", row_id)
            return None
        jlog = job_log(run.id, run.kind, attempt=run.attempt)
        spec = self.registry.get(run.kind)
        if run.run_after is not None:
            lag = (run.started_at - run.run_after).total_seconds()
            metrics.JOB_QUEUE_LAG.labels(_kind_label(run, spec)).observe(max(lag, 0.0))
        if spec is None:
            return await self._settle(
                run, jlog, None, PermanentFailure(f"no job registered for kind {run.kind!r}")
            )
        ctx = JobContext(
            runtime=self.runtime,
            settings=self.settings,
            job_id=run.id,
            kind=run.kind,
            attempt=run.attempt,
            payload=run.payload,
            organization_id=run.organization_id,
            key=run.key,
            log=jlog,
            resources=self.resources,
        )
        args = run.payload.get(ARGS, []) if isinstance(run.payload.get(ARGS), list) else []
        # The trace of whatever wrote the row goes on here (nothing, when tracing is off).
        with tracing.job_span(run.kind, run.id, run.attempt, run.traceparent):
            jlog.info("started (attempt %d/%d)", run.attempt, spec.max_tries)
            try:
                # A timeout scope rather than wait_for: no extra task per job.
                async with asyncio.timeout(spec.timeout):
                    await spec.func(ctx, *args)
            except asyncio.CancelledError:
                # The process is stopping: give the row back untouched, it was not the job's fault.
                await self._give_back(run, jlog)
                raise
            except Exception as exc:
                tracing.job_failed(exc)
                return await self._settle(run, jlog, spec, exc)
            return await self._settle(run, jlog, spec, None)

    async def _settle(
        self,
        run: claims.Run,
        jlog: JobLog,
        spec: JobSpec | None,
        exc: Exception | None,
    ) -> OutboxState:
        now = utcnow()
        values: dict[str, Any] = {
            "finished_at": now,
            "duration_ms": int((now - run.started_at).total_seconds() * 1000),
        }
        if exc is None:
            state = OutboxState.DONE
            values.update(latency_ms=int((now - run.created_at).total_seconds() * 1000), dead_reason=None)
            jlog.info("done in %dms", values["duration_ms"])
        else:
            values.update(last_error=describe(exc), errors=1)
            max_tries = spec.max_tries if spec else 1
            if isinstance(exc, PermanentFailure):
                state, reason = OutboxState.DEAD, exc.reason
            elif run.attempt >= max_tries:
                state, reason = OutboxState.DEAD, f"gave up after {run.attempt} tries"
            else:
                state, reason = OutboxState.PENDING, ""
            if state is OutboxState.DEAD:
                values.update(dead_reason=reason[:500])
                jlog.error(
                    "dead: %s; last error: %s",
                    reason,
                    describe(exc),
                    exc_info=not isinstance(exc, PermanentFailure),
                )
            else:
                assert spec is not None
                delay = (
                    exc.defer
                    if isinstance(exc, Retry) and exc.defer is not None
                    else spec.backoff(run.attempt)
                )
                values.update(run_after=now + timedelta(seconds=delay), finished_at=None)
                jlog.warning(
                    "failed (attempt %d/%d), retrying in %.2fs: %s",
                    run.attempt,
                    max_tries,
                    delay,
                    describe(exc),
                )
        values["state"] = state
        kind = _kind_label(run, spec)
        metrics.JOBS.labels(kind, SETTLED_AS[state]).inc()
        metrics.JOB_DURATION.labels(kind).observe((now - run.started_at).total_seconds())

        # A run whose lease was lost meanwhile records nothing: the row has moved on without it.
        await self._outcomes.submit((run, values))
        # Only a settled row with a key (its successor may now go) or a retry changes what is due.
        if self.on_settled is not None and (run.key is not None or state is OutboxState.PENDING):
            self.on_settled()
        return state

    async def _give_back(self, run: claims.Run, jlog: JobLog) -> None:
        """One quick try, so stopping stays prompt; a row not given back waits out its lease."""
        values = {"state": OutboxState.PENDING, "attempts": run.attempt - 1, "run_after": utcnow()}
        metrics.JOBS.labels(_kind_label(run, self.registry.get(run.kind)), "interrupted").inc()
        try:
            await asyncio.wait_for(self._write_outcomes([(run, values)]), STOP_SECONDS)
            jlog.info("interrupted by shutdown; handed back")
        except GIVE_BACK_FAILURES as exc:
            jlog.warning("interrupted by shutdown; not handed back (%s), its lease will", describe(exc))


def _kind_label(run: claims.Run, spec: JobSpec | None) -> str:
    # A kind no process registered comes from the database, not the code: one series for them all.
    return run.kind if spec is not None else "unknown"
