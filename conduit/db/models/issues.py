"""Issues (groups of events sharing a fingerprint) and the events themselves."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, Json, TenantMixin, UTCDateTime


class IssueStatus(enum.StrEnum):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class Issue(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "issue"
    __table_args__ = (
        UniqueConstraint("project_id", "fingerprint"),
        Index("ix_issue_project_status_last_seen", "project_id", "status", "last_seen"),
        # An unfiltered page in the order it is sorted (the count sort has none: it changes with
        # every event, and an index on it would be rewritten by each).
        Index("ix_issue_project_last_seen_id", "project_id", "last_seen", "id"),
        Index("ix_issue_project_first_seen_id", "project_id", "first_seen", "id"),
    )

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id", ondelete="CASCADE"))
    # sha256 hex of the grouping components; one issue per (project, fingerprint).
    fingerprint: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(1000))
    culprit: Mapped[str] = mapped_column(String(1000), default="")
    level: Mapped[str] = mapped_column(String(20), default="error")
    status: Mapped[IssueStatus] = mapped_column(
        Enum(IssueStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=IssueStatus.UNRESOLVED,
    )
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Event(IdMixin, TenantMixin, Base):
    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("project_id", "event_id"),
        Index("ix_event_issue_id_id", "issue_id", "id"),
    )

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id", ondelete="CASCADE"))
    issue_id: Mapped[int] = mapped_column(BigId, ForeignKey("issue.id", ondelete="CASCADE"))
    # The SDK's own id (32 hex chars); a resent envelope is recognised by it.
    event_id: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    platform: Mapped[str] = mapped_column(String(64), default="other")
    level: Mapped[str] = mapped_column(String(20), default="error")
    message: Mapped[str] = mapped_column(Text, default="")
    exception_type: Mapped[str | None] = mapped_column(String(500), nullable=True)
    exception_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    release: Mapped[str | None] = mapped_column(String(200), nullable=True)
    environment: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tags: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    # Frames and the rest of the payload, trimmed, for people reading the event.
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
