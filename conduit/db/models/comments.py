"""Comments people and apps write on an issue."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from conduit.db.base import Base, BigId, CreatedMixin, IdMixin, TenantMixin

MAX_BODY = 10_000


class Comment(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "comment"

    issue_id: Mapped[int] = mapped_column(BigId, ForeignKey("issue.id", ondelete="CASCADE"), index=True)
    # Null when an app (not a member) wrote it, or the member was removed since.
    author_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    body: Mapped[str] = mapped_column(Text)
