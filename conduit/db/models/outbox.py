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
    DONE = "done"
    DEAD = "dead"  # out of tries, or failed for good; kept with its reason


class OutboxRow(IdMixin, CreatedMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_run_after", "state", "run_after"),
        Index("ix_outbox_key_id", "key", "id"),
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
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
