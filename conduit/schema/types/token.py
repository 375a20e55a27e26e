from __future__ import annotations

from datetime import datetime

import strawberry

from conduit import ids
from conduit.db import models
from conduit.schema.types.node import Node


@strawberry.type(description="An API token. Its value is shown once, when it is created, and never again.")
class ApiToken(Node):
    name: str
    prefix: str = strawberry.field(description="The first characters of the value, to tell tokens apart.")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, t: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(ids.encode("ApiToken", t.id)),
            name=t.name,
            prefix=t.prefix,
            scopes=list(t.scopes),
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )
