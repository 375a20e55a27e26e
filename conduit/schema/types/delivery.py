"""Deliveries, seen from one of two sides.

The app's owner sees everything about a delivery to its endpoint: the URL, what the endpoint answered
(status, excerpt, error). An organization that installed someone else's app sees only its own side —
which event, whether and when it was delivered, how many attempts — and those fields are null for it.
The side is decided in `from_model`, from the row and the viewer's organization, so no resolver can
hand the owner's view to the installer by forgetting a check.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import cast

import orjson
import strawberry
from strawberry.scalars import JSON

from conduit import ids
from conduit.db import models
from conduit.events import sealed
from conduit.schema.types.node import Node


@strawberry.enum(description="Where a delivery stands.")
class DeliveryOutcome(Enum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.enum
class AttemptTrigger(Enum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"


OWNER_ONLY = "Null unless this organization owns the app."


@strawberry.type(description="One try at sending a delivery, as the receiver answered it.")
class DeliveryAttempt:
    number: int
    trigger: AttemptTrigger
    url: str | None = strawberry.field(description=f"The endpoint. {OWNER_ONLY}")
    started_at: datetime
    duration_ms: int
    status_code: int | None = strawberry.field(
        description=f"The HTTP status; null when no response came back. {OWNER_ONLY}"
    )
    outcome: str = strawberry.field(description="success, retry, throttle or disable.")
    response_excerpt: str | None = strawberry.field(
        description=f"The first KB of the response body. {OWNER_ONLY}"
    )
    error: str | None = strawberry.field(description=OWNER_ONLY)
    next_attempt_at: datetime | None

    @classmethod
    def from_model(cls, a: models.DeliveryAttempt, owner: bool) -> DeliveryAttempt:
        return cls(
            number=a.number,
            trigger=AttemptTrigger(a.trigger.value),
            url=a.url if owner else None,
            started_at=a.started_at,
            duration_ms=a.duration_ms,
            status_code=a.status_code if owner else None,
            outcome=a.outcome,
            response_excerpt=a.response_excerpt if owner else None,
            error=a.error if owner else None,
            next_attempt_at=a.next_attempt_at,
        )


@strawberry.type(description="One event sent to one app endpoint, with every attempt.")
class Delivery(Node):
    event_type: str
    event_id: str = strawberry.field(description="The event's id, the same in every endpoint's copy.")
    webhook_id: str = strawberry.field(description="The `webhook-id` header: the same on every attempt.")
    outcome: DeliveryOutcome
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None = strawberry.field(description=OWNER_ONLY)
    last_error: str | None = strawberry.field(description=OWNER_ONLY)
    created_at: datetime
    finished_at: datetime | None
    test: bool
    payload: JSON = strawberry.field(description="The body as sent (and signed).")
    attempts: list[DeliveryAttempt]
    app_pk: strawberry.Private[int]
    installation_pk: strawberry.Private[int | None]

    @strawberry.field
    def app_id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode("App", self.app_pk))

    @strawberry.field
    def installation_id(self) -> strawberry.ID | None:
        pk = self.installation_pk
        return None if pk is None else strawberry.ID(ids.encode("AppInstallation", pk))

    @classmethod
    def from_model(
        cls, d: models.Delivery, attempts: list[models.DeliveryAttempt], viewer_organization_id: int
    ) -> Delivery:
        owner = d.owner_organization_id == viewer_organization_id
        return cls(
            id=strawberry.ID(ids.encode("Delivery", d.id)),
            event_type=d.event_type,
            event_id=d.event_id,
            webhook_id=d.msg_id,
            outcome=DeliveryOutcome(d.status.value),
            attempt_count=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code if owner else None,
            last_error=d.last_error if owner else None,
            created_at=d.created_at,
            finished_at=d.finished_at,
            test=d.test,
            payload=cast(JSON, orjson.loads(sealed.shown(d.event_type, d.body))),
            attempts=[DeliveryAttempt.from_model(a, owner) for a in attempts],
            app_pk=d.app_id,
            installation_pk=d.installation_id,
        )
