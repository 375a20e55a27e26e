"""Where an installation's deliveries go, and posting straight to Conduit's hook URLs."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import select

from conduit.db.models.integrations import TrackerWebhook
from tests.sync.conftest import Conduit, Side


@dataclass(frozen=True)
class Hook:
    """Where an installation's deliveries go, and the facts signed claims may name."""

    path: str
    webhook_ids: list[str]
    site: str  # the site's URL (the `iss` of claims that name it)
    cloud_id: str = ""


async def hook(conduit: Conduit, side: Side, installation_id: int) -> Hook:
    row = await conduit.installation(installation_id)
    async with conduit.runtime.sessions() as session:
        ids = (
            await session.execute(
                select(TrackerWebhook.external_id).where(
                    TrackerWebhook.installation_id == installation_id,
                    TrackerWebhook.external_id.is_not(None),
                )
            )
        ).scalars()
        webhook_ids = [str(i) for i in ids]
    return Hook(f"/hooks/{side.key}/{row.hook_token}", webhook_ids, side.url)


async def post(conduit: Conduit, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as c:
        return await c.post(f"{conduit.url}{path}", headers=headers, content=body)
