"""Automation rules of a project, the log of their firings, and the counts their triggers read.

The counts never come from the events table: an issue's `times_seen` (kept by ingest) is folded into
per-minute buckets by the rule evaluation job (`conduit.rules.counts`), and a window is the sum of its
buckets. Per-ticket state (`RuleTicket`) remembers the count a ticket was made at and the last milestone
commented on it, so each milestone is said at most once per ticket.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, Json, TenantMixin, UTCDateTime, utcnow


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e])


class RuleTrigger(enum.StrEnum):
    NEW_ISSUE = "new_issue"
    REGRESSION = "regression"
    EVENT_RATE = "event_rate"  # more than `threshold` events in the last `window_seconds`
    EVENTS_SINCE_TICKET = "events_since_ticket"  # more than `threshold` events since the ticket was made


class FiringOutcome(enum.StrEnum):
    PENDING = "pending"  # a ticket was requested; its create job has not finished yet
    CREATED = "created"  # the rule made the ticket
    LINKED = "linked"  # the issue already had a ticket in the installation: none was made
    COMMENTED = "commented"  # a milestone comment was queued on the ticket
    EMITTED = "emitted"  # no ticket action: `rule.triggered` was the whole of it
    SUPPRESSED = "suppressed"  # held back by a limit; `reason` says which
    FAILED = "failed"  # `reason` says why


class Rule(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "rule"
    __table_args__ = (Index("ix_rule_project_enabled", "project_id", "enabled"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger: Mapped[RuleTrigger] = mapped_column(_enum(RuleTrigger))
    threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    window_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # levels, environments, releases (lists), tags (key -> value), text (in title or culprit).
    filters: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # The ticket action; without an installation the rule only emits `rule.triggered` (and comments
    # milestones on whatever tickets the issue has). An uninstalled tracker leaves the rule in place.
    installation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("installation.id", ondelete="SET NULL"), nullable=True
    )
    target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    title_template: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    description_template: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Label names for the ticket; each connector maps them to its tracker's labels (NULL: none).
    ticket_labels: Mapped[list[str] | None] = mapped_column(Json, nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    comment_milestones: Mapped[bool] = mapped_column(Boolean, default=True)
    max_tickets_per_hour: Mapped[int] = mapped_column(Integer, default=10)
    # When the rule's last tickets were requested (at most `max_tickets_per_hour`, within the hour),
    # changed only by a compare-and-set on `quota_version`: the limit holds across workers.
    ticket_times: Mapped[list[str]] = mapped_column(Json, default=list)
    quota_version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleFiring(IdMixin, TenantMixin, CreatedMixin, Base):
    """One evaluation that matched: what the rule did about one issue, and how it turned out."""

    __tablename__ = "rule_firing"
    __table_args__ = (
        Index("ix_rule_firing_rule_issue_cause", "rule_id", "issue_id", "cause"),
        Index("ix_rule_firing_organization_created", "organization_id", "created_at"),
        Index("ix_rule_firing_project_created", "project_id", "created_at"),
    )

    rule_id: Mapped[int] = mapped_column(BigId, ForeignKey("rule.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id", ondelete="CASCADE"))
    issue_id: Mapped[int] = mapped_column(BigId, ForeignKey("issue.id", ondelete="CASCADE"))
    # ticket / comment / event
    action: Mapped[str] = mapped_column(String(20))
    # Why it fired: `new`, `regression:<when>`, `rate`, `ticket:<id>`, `milestone:<n>`.
    cause: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[FiringOutcome] = mapped_column(_enum(FiringOutcome))
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    # The issue's event count when it fired.
    count: Mapped[int] = mapped_column(Integer, default=0)
    ticket_request_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ticket_request.id", ondelete="SET NULL"), nullable=True
    )
    external_issue_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("external_issue.id", ondelete="SET NULL"), nullable=True
    )
    # From the newest event the evaluation saw arriving to the outcome being known.
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When that newest event arrived; the base of `latency_ms` for a firing settled later.
    event_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RuleIssueCount(TenantMixin, Base):
    """How much of an issue's `times_seen` is already in its buckets (None: none yet), when it last
    regressed, and whether an evaluation of it is queued (so a burst queues one)."""

    __tablename__ = "rule_issue_count"

    issue_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    observed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    queued: Mapped[bool] = mapped_column(Boolean, default=False)
    regressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleCountBucket(Base):
    """Events of one issue that arrived in one minute (as the evaluation job saw them)."""

    __tablename__ = "rule_count_bucket"
    __table_args__ = (Index("ix_rule_count_bucket_minute", "minute"),)

    issue_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("issue.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class RuleTicket(TenantMixin, CreatedMixin, Base):
    """What rules know of one linked ticket: the count it was made at and the last milestone said."""

    __tablename__ = "rule_ticket"

    external_issue_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("external_issue.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    issue_id: Mapped[int] = mapped_column(BigId, ForeignKey("issue.id", ondelete="CASCADE"), index=True)
    baseline: Mapped[int] = mapped_column(Integer, default=0)
    milestone: Mapped[int] = mapped_column(Integer, default=0)
