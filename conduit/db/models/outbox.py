"""The outbox: every side effect is first a row here, written with its cause."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, Json, UTCDateTime, utcnow


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # written, not yet handed to a runner
    QUEUED = "queued"  # handed to a runner, lease running
    RUNNING = "running"  # a runner took it; the lease covers the job's timeout
    DONE = "done"
    DEAD = "dead"  # out of tries, or failed for good; kept with its reason


# States in which a row still has work ahead of it; rows sharing a key wait on these.
UNFINISHED = (OutboxState.PENDING, OutboxState.QUEUED, OutboxState.RUNNING)
LEASED = (OutboxState.QUEUED, OutboxState.RUNNING)


class OutboxRow(IdMixin, CreatedMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_run_after", "state", "run_after"),
        Index("ix_outbox_key_id", "key", "id"),
        Index("ix_outbox_state_lease", "state", "lease_expires_at"),
        Index("ix_outbox_kind_state", "kind", "state"),
    )

    # Nullable: some work (pruning, sweeping) belongs to no tenant.
    organization_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("organization.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(100))
    # Rows sharing a key run one at a time, in id order.
    key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    state: Mapped[OutboxState] = mapped_column(
        Enum(OutboxState, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=OutboxState.PENDING,
    )
    # Runs started since the row was last (re)queued; also the token a runner finishes with.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Failed runs over the row's whole life, kept across a manual retry: the failure figure by kind.
    errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Why a row is dead, in words a person can act on (the error itself is in last_error).
    dead_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Stored rather than derived so stats are plain aggregates on both databases.
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The W3C trace context the row was written in: its job's span continues that trace (conduit.tracing).
    traceparent: Mapped[str | None] = mapped_column(String(64), nullable=True)


class JobSchedule(Base):
    """When each periodic job is next due; claiming a run is one conditional UPDATE, so one process wins."""

    __tablename__ = "job_schedule"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
