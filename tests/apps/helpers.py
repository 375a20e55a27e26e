from __future__ import annotations

import secrets
from typing import Any

from conduit.events.emit import emit
from conduit.runtime import Runtime
from tests.factories import make_issue


async def emit_issue(runtime: Runtime, organization_id: int, project_id: int, n: int = 1) -> list[int]:
    """Create `n` issues and emit `issue.created` for each, as ingest does; returns outbox row ids."""
    rows = []
    async with runtime.sessions() as session:
        for _ in range(n):
            issue = await make_issue(session, organization_id, project_id, title=f"E: {secrets.token_hex(3)}")
            data = {"issue_id": issue.id, "project_id": project_id}
            rows.append(emit(session, "issue.created", organization_id, data))
        await session.commit()
    return [r.id for r in rows]


def name() -> str:
    return f"ep-{secrets.token_hex(4)}"


def issue_app(url: str, **extra: Any) -> dict[str, Any]:
    return {"webhookUrl": url, "events": ["issue.created"], "scopes": ["issue:read"], **extra}
