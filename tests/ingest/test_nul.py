"""NUL characters anywhere in an event: PostgreSQL text and JSONB cannot hold U+0000, SQLite can.

An SDK sends whatever the application's strings hold, so ingest must store the event on both databases
the same way rather than fail on one of them.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from conduit.db.models import Event, Issue
from conduit.runtime import Runtime
from tests.conftest import Tenant

from .helpers import event_envelope, exception_event, frame, sentry_auth


@pytest.mark.parametrize("route", ["envelope", "store"])
async def test_an_event_full_of_nul_characters_is_stored(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime, route: str
) -> None:
    event = exception_event(
        type_="Value\u0000Error",
        value="bad \u0000 value",
        frames=[frame("app.\u0000main", "run\u0000")],
        message="m\u0000",
        tags={"k\u0000": "v\u0000"},
        extra={"\u0000key": ["\u0000"]},
    )
    headers = sentry_auth(tenant.public_key)
    if route == "envelope":
        r = await client.post(
            f"/api/{tenant.project_id}/envelope/", content=event_envelope(event), headers=headers
        )
    else:
        r = await client.post(f"/api/{tenant.project_id}/store/", json=event, headers=headers)
    assert r.status_code == 200, r.text
    async with runtime.sessions() as session:
        stored = (
            await session.execute(select(Event).where(Event.event_id == event["event_id"]))
        ).scalar_one()
        issue = await session.get(Issue, stored.issue_id)
    assert issue is not None
    assert "\u0000" not in issue.title
    assert "ValueError" in issue.title.replace("\ufffd", "")
