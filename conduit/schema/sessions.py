"""A member's console sessions, as their owner (or an admin) sees them: never the token, only when and
from which browser it was used."""

from __future__ import annotations

from datetime import datetime

import strawberry

from conduit import ids
from conduit.auth import sessions
from conduit.db import models
from conduit.db.base import utcnow
from conduit.schema.node import Node


@strawberry.type(
    description="One browser signed in to the console as a member, until it signs out or expires."
)
class MemberSession(Node):
    member_id: strawberry.ID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime = strawberry.field(
        description="When it ends however active it is; it also ends after 12 hours without use."
    )
    revoked_at: datetime | None
    user_agent: str
    active: bool = strawberry.field(description="Neither revoked, nor expired, nor idle too long.")
    current: bool = strawberry.field(description="The session this request is made with.")

    @classmethod
    def from_model(cls, row: models.MemberSession, current_id: int | None = None) -> MemberSession:
        return cls(
            id=strawberry.ID(ids.encode("MemberSession", row.id)),
            member_id=strawberry.ID(ids.encode("Member", row.member_id)),
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            user_agent=row.user_agent,
            active=sessions.is_live(row, utcnow()),
            current=row.id == current_id,
        )
