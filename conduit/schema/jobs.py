"""Background work as an organization's admins see it: jobs from the outbox and queue health."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from conduit import ids
from conduit.db import models
from conduit.jobs.admin import KindStats, QueueStats
from conduit.schema.node import Node


@strawberry.enum
class JobState(Enum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


@strawberry.type(description="One unit of background work, as recorded in the outbox.")
class Job(Node):
    kind: str
    key: str | None = strawberry.field(description="Jobs sharing a key run one at a time, in order.")
    state: JobState
    attempts: int
    failures: int
    payload: JSON
    created_at: datetime
    run_after: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    latency_ms: int | None = strawberry.field(description="From creation to completion.")
    last_error: str | None
    dead_reason: str | None

    @classmethod
    def from_model(cls, r: models.OutboxRow) -> Job:
        return cls(
            id=strawberry.ID(ids.encode("Job", r.id)),
            kind=r.kind,
            key=r.key,
            state=JobState(r.state),
            attempts=r.attempts,
            failures=r.errors,
            payload=cast(JSON, r.payload),
            created_at=r.created_at,
            run_after=r.run_after,
            started_at=r.started_at,
            finished_at=r.finished_at,
            duration_ms=r.duration_ms,
            latency_ms=r.latency_ms,
            last_error=r.last_error,
            dead_reason=r.dead_reason,
        )


@strawberry.type
class JobKindStats:
    kind: str
    done: int
    dead: int
    failures: int
    avg_duration_ms: float | None
    max_duration_ms: int | None
    avg_latency_ms: float | None

    @classmethod
    def from_stats(cls, k: KindStats) -> JobKindStats:
        return cls(
            kind=k.kind,
            done=k.done,
            dead=k.dead,
            failures=k.failures,
            avg_duration_ms=k.avg_duration_ms,
            max_duration_ms=k.max_duration_ms,
            avg_latency_ms=k.avg_latency_ms,
        )


@strawberry.type
class JobStateCount:
    state: JobState
    count: int


@strawberry.type(description="The health of this organization's background work.")
class JobQueueStats:
    depth: list[JobStateCount]
    oldest_pending_age_seconds: float | None
    kinds: list[JobKindStats]

    @classmethod
    def from_stats(cls, s: QueueStats) -> JobQueueStats:
        return cls(
            depth=[JobStateCount(state=JobState(k), count=v) for k, v in s.depth.items()],
            oldest_pending_age_seconds=s.oldest_pending_age_seconds,
            kinds=[JobKindStats.from_stats(k) for k in s.kinds],
        )
