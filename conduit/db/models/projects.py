"""Projects (sources of errors) and their DSN keys."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, TenantMixin


class Project(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "project"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Events per minute each of this project's DSN keys may send; None defers to CONDUIT_INGEST_RATE_LIMIT.
    ingest_rate_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ProjectKey(IdMixin, TenantMixin, CreatedMixin, Base):
    """A DSN key. The public key is not a secret: SDKs put it in every request."""

    __tablename__ = "project_key"

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("project.id", ondelete="CASCADE"), index=True)
    public_key: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="Default")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
