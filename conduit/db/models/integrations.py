"""Tracker installations, the tickets they hold, links to issues, and every call made to a tracker."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, Json, TenantMixin, UTCDateTime


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class InstallationStatus(enum.StrEnum):
    PENDING = "pending"  # authorized in the browser, code not yet exchanged
    ACTIVE = "active"
    ERROR = "error"  # set up failed; status_reason says what a person can do
    REVOKED = "revoked"  # the tracker no longer accepts our grant


class InteractionOutcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # our side or a passing fault (5xx, timeout, rate limit, bad request)
    HALTED = "halted"  # the tracker's or the user's side (revoked, forbidden, gone)


class Installation(IdMixin, TenantMixin, CreatedMixin, Base):
    """An organization's connection to one tracker account or site."""

    __tablename__ = "installation"

    provider: Mapped[str] = mapped_column(String(40))
    # Self-hosted trackers (and the sandbox) live at their own URL; None means the provider's cloud.
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[InstallationStatus] = mapped_column(
        _enum(InstallationStatus), default=InstallationStatus.PENDING
    )
    status_reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    account_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Where people see the account or site (a Jira Cloud site's URL differs from its API URL).
    account_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Credentials, encrypted with the runtime's SecretBox; never read outside conduit.connectors.
    access_token_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Bumped on every credential change: a compare-and-set guard so a lost refresh race never
    # overwrites newer tokens.
    credentials_version: Mapped[int] = mapped_column(Integer, default=0)
    webhook_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    webhook_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Sync directions, resolved statuses, the statuses used to resolve and reopen: see connectors.config.
    config: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # The opaque part of the webhook URL Conduit registers at the tracker (`/hooks/{provider}/{token}`):
    # unguessable, so a leaked app secret alone cannot aim a forged delivery at an installation, and the
    # URL says nothing about how many installations exist.
    hook_token: Mapped[str] = mapped_column(
        String(64), unique=True, default=lambda: secrets.token_urlsafe(24)
    )
    # The OAuth client registered on a self-hosted tracker (GitHub Enterprise, Jira Data Center), given
    # with the installation: the operator's cloud clients never leave for a host the operator did not
    # configure. The secret is encrypted like every other credential.
    oauth_client_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    oauth_client_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)


class ExternalIssue(IdMixin, TenantMixin, CreatedMixin, Base):
    """A ticket in a tracker, with the live fields last seen there."""

    __tablename__ = "external_issue"
    __table_args__ = (
        UniqueConstraint("installation_id", "key"),
        Index("ix_external_issue_installation_tracker_id", "installation_id", "tracker_id"),
    )

    installation_id: Mapped[int] = mapped_column(BigId, ForeignKey("installation.id", ondelete="CASCADE"))
    # What people see and type (`owner/repo#12`, `OPS-7`); it changes when the ticket moves.
    key: Mapped[str] = mapped_column(String(300))
    # The tracker's own id for the ticket, which a move keeps: deliveries are matched by it first.
    tracker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    url: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(200), default="")
    # open / in_progress / done, whatever the tracker calls it.
    status_category: Mapped[str] = mapped_column(String(20), default="open")
    assignee: Mapped[str | None] = mapped_column(String(320), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    etag: Mapped[str | None] = mapped_column(String(200), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the last change Conduit tried to make to the ticket did not happen (e.g. no tracker user
    # for the assignee's email); cleared by the next change that goes through.
    sync_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class TrackerAccount(IdMixin, TenantMixin, CreatedMixin, Base):
    """Which tracker user a member is, per installation: trackers often hide emails, so a match found
    once (by the tracker's user search, or set by hand) is kept and used both ways."""

    __tablename__ = "tracker_account"
    __table_args__ = (
        UniqueConstraint("installation_id", "member_id", name="uq_tracker_account_installation_id_member_id"),
        Index("ix_tracker_account_installation_account", "installation_id", "account"),
    )

    installation_id: Mapped[int] = mapped_column(BigId, ForeignKey("installation.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("member.id", ondelete="CASCADE"))
    # The tracker's stable id for the user: a GitHub login, a Jira accountId.
    account: Mapped[str] = mapped_column(String(200))


class TrackerComment(IdMixin, TenantMixin, CreatedMixin, Base):
    """A comment as it exists on a ticket: Conduit's comment and the tracker's id for its copy.

    Written when sync out posts a comment (so its webhook echo is known and dropped) and when a
    tracker's comment arrives (so a redelivered one is taken once)."""

    __tablename__ = "tracker_comment"
    __table_args__ = (
        UniqueConstraint("installation_id", "external_id", name="uq_tracker_comment_installation_external"),
    )

    installation_id: Mapped[int] = mapped_column(BigId, ForeignKey("installation.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(BigId, ForeignKey("comment.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))


class IssueLink(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "issue_link"
    __table_args__ = (UniqueConstraint("issue_id", "external_issue_id"),)

    issue_id: Mapped[int] = mapped_column(BigId, ForeignKey("issue.id", ondelete="CASCADE"), index=True)
    external_issue_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("external_issue.id", ondelete="CASCADE"), index=True
    )
    # The ticket is gone from the tracker; the link stays so people see what happened.
    broken: Mapped[bool] = mapped_column(Boolean, default=False)


class Interaction(IdMixin, TenantMixin, CreatedMixin, Base):
    """One outbound call to a tracker: what health, latency and error figures are computed from."""

    __tablename__ = "interaction"
    __table_args__ = (Index("ix_interaction_installation_created", "installation_id", "created_at"),)

    installation_id: Mapped[int] = mapped_column(BigId, ForeignKey("installation.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(10))
    # The template, not the concrete path: groups calls and keeps keys out of the log.
    path: Mapped[str] = mapped_column(String(500))
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[InteractionOutcome] = mapped_column(_enum(InteractionOutcome))
    error: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # Rate-limit headroom the tracker reported with this answer, if any.
    rate_limit_remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)


class OAuthState(IdMixin, TenantMixin, CreatedMixin, Base):
    """One authorization in flight: the `state` sent to the tracker, single-use, bound to its org."""

    __tablename__ = "oauth_state"

    installation_id: Mapped[int] = mapped_column(BigId, ForeignKey("installation.id", ondelete="CASCADE"))
    # sha256 of the state: a database read does not hand out a usable state.
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(40))
    code_verifier_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    redirect_uri: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TrackerWebhook(IdMixin, TenantMixin, CreatedMixin, Base):
    """The tracker's webhook for one scope (a repository, a project) of an installation."""

    __tablename__ = "tracker_webhook"
    __table_args__ = (UniqueConstraint("installation_id", "scope"),)

    installation_id: Mapped[int] = mapped_column(BigId, ForeignKey("installation.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(300))
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The API could not create it: a person pastes the installation's webhook URL and secret.
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    # The URL the tracker was given. When it is not the one Conduit would give now (a webhook registered
    # before hook URLs carried the installation's token, or the public URL moved), reconcile moves it.
    url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class WebhookReceipt(IdMixin, TenantMixin, CreatedMixin, Base):
    """A tracker webhook delivery already taken: a redelivery or a replay of the same id is ignored."""

    __tablename__ = "webhook_receipt"
    __table_args__ = (UniqueConstraint("installation_id", "delivery_id"),)

    installation_id: Mapped[int] = mapped_column(BigId, ForeignKey("installation.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(200))


class TicketRequestState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class TicketRequest(IdMixin, TenantMixin, CreatedMixin, Base):
    """A request to create a ticket from an issue; its key makes a double submit one ticket."""

    __tablename__ = "ticket_request"

    # Unique while the request stands; cleared when its link is removed so a new ticket can be made.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    issue_id: Mapped[int] = mapped_column(BigId, ForeignKey("issue.id", ondelete="CASCADE"))
    installation_id: Mapped[int] = mapped_column(BigId, ForeignKey("installation.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Label names the ticket is created with (NULL: none), kept so a retried create says the same.
    labels: Mapped[list[str] | None] = mapped_column(Json, nullable=True)
    state: Mapped[TicketRequestState] = mapped_column(
        _enum(TicketRequestState), default=TicketRequestState.PENDING
    )
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    external_issue_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("external_issue.id", ondelete="SET NULL"), nullable=True
    )
