"""Rows made directly, for tests that read them back through the API."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import Event, Issue, Member, Project


async def make_issue(
    session: AsyncSession,
    organization_id: int,
    project_id: int,
    title: str = "ValueError: boom",
    events: int = 1,
) -> Issue:
    now = utcnow()
    issue = Issue(
        organization_id=organization_id,
        project_id=project_id,
        fingerprint=secrets.token_hex(32),
        title=title,
        culprit="app.main",
        first_seen=now - timedelta(minutes=events),
        last_seen=now,
        times_seen=events,
    )
    session.add(issue)
    await session.flush()
    for n in range(events):
        session.add(
            Event(
                organization_id=organization_id,
                project_id=project_id,
                issue_id=issue.id,
                event_id=secrets.token_hex(16),
                timestamp=now - timedelta(minutes=events - n),
                received_at=now,
                message=f"{title} #{n}",
                exception_type=title.split(":")[0],
                exception_value=title,
                tags={"n": str(n)},
                data={"exception": {"values": [_exception(title, 10 + n)]}},
            )
        )
    await session.flush()
    return issue


def _exception(title: str, lineno: int) -> dict[str, object]:
    frame = {"filename": "app.py", "function": "main", "lineno": lineno, "in_app": True}
    return {"type": title.split(":")[0], "value": title, "stacktrace": {"frames": [frame]}}


async def make_project(session: AsyncSession, organization_id: int, name: str | None = None) -> Project:
    name = name or f"p-{secrets.token_hex(3)}"
    project = Project(organization_id=organization_id, name=name, slug=name)
    session.add(project)
    await session.flush()
    return project


async def make_member(session: AsyncSession, organization_id: int, email: str | None = None) -> Member:
    member = Member(
        organization_id=organization_id, email=email or f"{secrets.token_hex(3)}@example.com", name="M"
    )
    session.add(member)
    await session.flush()
    return member
