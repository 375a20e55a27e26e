"""Organizations (tenants), their members and their API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, Json, TenantMixin, UTCDateTime


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
