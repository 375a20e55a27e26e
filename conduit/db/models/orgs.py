"""Organizations (tenants), their members and their API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, Json, TenantMixin, UTCDateTime, utcnow


class Organization(IdMixin, CreatedMixin, Base):
    __tablename__ = "organization"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)


class MemberRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class Member(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[MemberRole] = mapped_column(
        Enum(MemberRole, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=MemberRole.MEMBER,
    )
    # argon2id; None until the member sets a password (they may sign in with a one-time link meanwhile).
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True, default=None)


class ApiToken(IdMixin, TenantMixin, CreatedMixin, Base):
    """A bearer token. Only a hash is stored; the value is shown once, when it is made."""

    __tablename__ = "api_token"

    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, kept so people can tell their tokens apart in a list.
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(Json, default=list)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("api_token.id"), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MemberSession(IdMixin, TenantMixin, CreatedMixin, Base):
    """A console session: the cookie carries a random token, of which only the sha256 is stored."""

    __tablename__ = "member_session"

    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("member.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Not a credential on its own: it is only honoured beside the session cookie, and the console reads it
    # back from GET /console/session after a reload.
    csrf_token: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class SignInLink(IdMixin, TenantMixin, CreatedMixin, Base):
    """A one-time sign-in link; only the sha256 of its token is stored."""

    __tablename__ = "sign_in_link"

    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("member.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)


class SignInFailure(IdMixin, Base):
    """One failed sign-in, under a hashed key (email and organization, or client address) for throttling."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (Index("ix_sign_in_failure_key_created", "key", "created_at"),)

    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
