"""Integrators' apps, their installations and tokens, and the webhook deliveries sent to them.

An app has one webhook endpoint (its URL); the endpoint's health (failing since, disabled) lives on the
app row, since that is what an integrator manages.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, Json, TenantMixin, UTCDateTime


def _enum(e: type[enum.Enum]) -> Enum:
    return Enum(e, native_enum=False, length=20, values_callable=lambda x: [m.value for m in x])


class AppKind(enum.StrEnum):
    PUBLIC = "public"  # installed by other organizations through the grant flow
    INTERNAL = "internal"  # installed in its owner organization at once


class App(IdMixin, TenantMixin, CreatedMixin, Base):
    """`organization_id` is the owner: the integrator who registered the app."""

    __tablename__ = "app"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[AppKind] = mapped_column(_enum(AppKind))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # Set when the app is a tracker: the base URL of the in-house tracker contract its service speaks.
    # An INTERNAL app is a tracker for its own organization only; a PUBLIC one for any organization.
    tracker_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    events: Mapped[list[str]] = mapped_column(Json, default=list)
    scopes: Mapped[list[str]] = mapped_column(Json, default=list)
    verify_install: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_timeout: Mapped[float] = mapped_column(Float, default=15.0)
    rate_limit_per_second: Mapped[int] = mapped_column(Integer, default=10)
    max_in_flight: Mapped[int] = mapped_column(Integer, default=10)
    # Strict order: one delivery at a time, oldest first, and a failing one holds back the rest.
    fifo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Endpoint health: set at the first failure after a success, cleared by the next success.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppWebhookSecret(IdMixin, CreatedMixin, Base):
    """A signing key; after a rotation the old one signs beside the new one until `expires_at`."""

    __tablename__ = "app_webhook_secret"

    app_id: Mapped[int] = mapped_column(BigId, ForeignKey("app.id", ondelete="CASCADE"), index=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppInstallationStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the app to exchange its grant code (verify_install)
    INSTALLED = "installed"
    UNINSTALLED = "uninstalled"


class AppInstallation(IdMixin, TenantMixin, CreatedMixin, Base):
    """An app in an organization. Reinstalling reuses the row, so nothing tied to it is lost."""

    __tablename__ = "app_installation"
    __table_args__ = (UniqueConstraint("app_id", "organization_id"),)

    app_id: Mapped[int] = mapped_column(BigId, ForeignKey("app.id", ondelete="CASCADE"), index=True)
    status: Mapped[AppInstallationStatus] = mapped_column(_enum(AppInstallationStatus))
    scopes: Mapped[list[str]] = mapped_column(Json, default=list)
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppGrant(IdMixin, CreatedMixin, Base):
    """A single-use grant code; only its hash is kept."""

    __tablename__ = "app_grant"

    installation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("app_installation.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppToken(IdMixin, TenantMixin, CreatedMixin, Base):
    """One access + refresh pair of an installation.

    Refreshing marks the pair `rotated_at` and points at its successor. For a short grace window the
    old refresh token still yields that same successor, whose values are kept encrypted for exactly
    that purpose, so a client that lost the refresh response can simply ask again.
    """

    __tablename__ = "app_token"

    installation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("app_installation.id", ondelete="CASCADE"), index=True
    )
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(Json, default=list)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pair_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    replaced_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("app_token.id"), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The grant code the first pair of this line was exchanged for, carried over by every refresh, so
    # a reused code revokes everything that came of it (RFC 6749 §4.1.2).
    grant_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("app_grant.id", ondelete="SET NULL"), nullable=True, index=True
    )


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # attempts ahead of it
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # out of attempts, or its endpoint was disabled


class AttemptTrigger(enum.StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"


class Delivery(IdMixin, CreatedMixin, Base):
    """One event sent to one app endpoint.

    Two organizations see it: the app's owner (`owner_organization_id`) and the organization the event
    happened in (`organization_id`, the installing one), so it carries both.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_app_created", "app_id", "created_at", "id"),
        Index("ix_webhook_delivery_installation_created", "installation_id", "created_at", "id"),
        Index("ix_webhook_delivery_status_app", "app_id", "status"),
        # One delivery per event and endpoint, even if the fan-out runs twice.
        UniqueConstraint("app_id", "event_id", name="uq_webhook_delivery_app_event"),
    )

    app_id: Mapped[int] = mapped_column(BigId, ForeignKey("app.id", ondelete="CASCADE"))
    owner_organization_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(BigId, ForeignKey("organization.id", ondelete="CASCADE"))
    installation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("app_installation.id", ondelete="CASCADE"), nullable=True
    )
    event_type: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(64))
    msg_id: Mapped[str] = mapped_column(String(64))
    # The bytes signed, as UTF-8, except that a secret for the app is kept sealed (conduit.events.sealed).
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    test: Mapped[bool] = mapped_column(Boolean, default=False)


class DeliveryAttempt(IdMixin, Base):
    __tablename__ = "webhook_attempt"
    __table_args__ = (
        Index("ix_webhook_attempt_delivery", "delivery_id", "number"),
        Index("ix_webhook_attempt_app_started", "app_id", "started_at"),
    )

    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_delivery.id", ondelete="CASCADE"))
    app_id: Mapped[int] = mapped_column(BigId, ForeignKey("app.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[AttemptTrigger] = mapped_column(_enum(AttemptTrigger))
    url: Mapped[str] = mapped_column(String(2000))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class InstallChange(enum.StrEnum):
    INSTALLED = "installed"
    UNINSTALLED = "uninstalled"


class AppInstallationChange(IdMixin, TenantMixin, CreatedMixin, Base):
    """An installation of an app becoming installed or uninstalled: its history, for partner analytics.

    `AppInstallation` is one row per app and organization, reused on reinstall, so it only knows the
    latest change. `organization_id` is the app's owner, who reads this; the installing organization is
    the installation's.
    """

    __tablename__ = "app_installation_change"
    __table_args__ = (Index("ix_app_installation_change_app_created", "app_id", "created_at"),)

    app_id: Mapped[int] = mapped_column(BigId, ForeignKey("app.id", ondelete="CASCADE"))
    installation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("app_installation.id", ondelete="CASCADE"), index=True
    )
    change: Mapped[InstallChange] = mapped_column(_enum(InstallChange))


class AppApiUsage(TenantMixin, Base):
    """GraphQL requests made with an app's access tokens in one minute, in every organization together.

    One row per app and minute, upserted per request, so counting costs one small write and a week is at
    most 10,080 rows of one app. `organization_id` is the app's owner, who reads this.
    """

    __tablename__ = "app_api_usage"
    __table_args__ = (Index("ix_app_api_usage_minute", "minute"),)

    app_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("app.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    # Requests answered with errors: refused before running, stopped by the time budget, or with any
    # error in the response (partial data included).
    errors: Mapped[int] = mapped_column(Integer, default=0)
