"""Comments people and apps write on an issue."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
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
    # Set when the comment was written in a tracker and synced in: the installation it came through,
    # and the tracker user's name where they match no member (then `author_id` is null).
    source_installation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("installation.id", ondelete="SET NULL"), nullable=True
    )
    source_provider: Mapped[str | None] = mapped_column(String(40), nullable=True)
    author_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
