"""Background work for admins: list jobs, see queue health, replay dead jobs."""

from __future__ import annotations

from typing import Annotated

import strawberry

from conduit import ids
from conduit.db import models
from conduit.jobs import admin
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, NotFoundError
from conduit.schema.jobs import Job, JobQueueStats, JobState
from conduit.schema.pagination import Connection, Page, SortKey, connection, page_size, position
from conduit.schema.permissions import forbidden, require

JOB_SORT = SortKey(models.OutboxRow.id, models.OutboxRow.id, descending=True)


@strawberry.type
class RetryJobPayload:
    job: Job


RetryJobResult = Annotated[
    RetryJobPayload | NotFoundError | ForbiddenError, strawberry.union("RetryJobResult")
]


@strawberry.type
class JobQuery:
    @strawberry.field(description="This organization's jobs, newest first.")
    async def jobs(
        self,
        info: Info,
        state: JobState | None = None,
        kind: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Job]:
        require(info, "job:read")
        n, start = page_size(first), position(JOB_SORT, after)
        after_id = None if start is None else start[1]
        async with info.context.runtime.sessions() as session:
            rows = await admin.list_jobs(
                session,
                info.context.viewer.organization_id,
                state=state.value if state else None,
                kind=kind,
                first=n + 1,
                after_id=after_id,
            )
        return connection(Page(rows[:n], len(rows) > n), JOB_SORT, Job.from_model)

    @strawberry.field(description="Queue depth, the oldest waiting job, and latency and failures per kind.")
    async def job_stats(self, info: Info) -> JobQueueStats:
        require(info, "job:read")
        async with info.context.runtime.sessions() as session:
            stats = await admin.queue_stats(session, info.context.viewer.organization_id)
        return JobQueueStats.from_stats(stats)


@strawberry.type
class JobMutation:
    @strawberry.mutation(description="Run a dead job again from its first try.")
    async def retry_job(self, info: Info, id: strawberry.ID) -> RetryJobResult:
        if err := forbidden(info, "job:write"):
            return err
        pk = ids.pk_or_none(id, "Job")
        if pk is None:
            return NotFoundError(message="job not found")
        async with info.context.runtime.sessions() as session:
            row = await admin.retry_job(session, info.context.viewer.organization_id, pk)
        if row is None:
            return NotFoundError(message="no dead job with this id")
        return RetryJobPayload(job=Job.from_model(row))
