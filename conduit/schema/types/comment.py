"""Comments on an issue."""

from __future__ import annotations

from datetime import datetime

import strawberry

from conduit import ids
from conduit.db.models.comments import Comment as CommentRow
from conduit.schema.pagination import SortKey
from conduit.schema.types.node import Node

# Oldest first: a conversation reads top to bottom.
COMMENT_SORT = SortKey(CommentRow.created_at, CommentRow.id, descending=False, is_datetime=True)


@strawberry.type(description="A comment on an issue; sent to linked tickets when the installation says so.")
class Comment(Node):
    body: str
    created_at: datetime
    author_id: strawberry.ID | None = strawberry.field(
        description="The member who wrote it; null when an API token or an app did."
    )

    @classmethod
    def from_model(cls, c: CommentRow) -> Comment:
        return cls(
            id=strawberry.ID(ids.encode("Comment", c.id)),
            body=c.body,
            created_at=c.created_at,
            author_id=strawberry.ID(ids.encode("Member", c.author_id)) if c.author_id else None,
        )


__all__ = ["COMMENT_SORT", "Comment"]
