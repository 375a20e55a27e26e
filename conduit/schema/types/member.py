from __future__ import annotations

from enum import Enum

import strawberry

from conduit import ids
from conduit.db import models
from conduit.schema.types.node import Node


@strawberry.enum
class MemberRole(Enum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@strawberry.type
class Member(Node):
    email: str
    name: str
    role: MemberRole

    @classmethod
    def from_model(cls, m: models.Member) -> Member:
        return cls(
            id=strawberry.ID(ids.encode("Member", m.id)), email=m.email, name=m.name, role=MemberRole(m.role)
        )
