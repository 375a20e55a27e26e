"""Deliveries sent straight to Conduit's hook URLs, signed as the trackers sign them (or forged)."""

from __future__ import annotations

import hashlib
import hmac
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import select

from conduit.db.models.integrations import TrackerWebhook
from tests.sync.conftest import CLIENTS, Conduit, Side


@dataclass(frozen=True)
class Hook:
    """Where an installation's deliveries go, and the facts a genuine Jira JWT names."""

    path: str
    webhook_ids: list[str]
    site: str  # the `iss` Jira puts in its JWT: the site's URL
    cloud_id: str


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
    cloud_id = str((await side.control("GET", "/state")).get("cloud_id", "")) if side.key == "jira" else ""
    return Hook(f"/hooks/{side.key}/{row.hook_token}", webhook_ids, side.url, cloud_id)


def jira_claims(target: Hook, **changes: Any) -> dict[str, Any]:
    """The claims the Jira sandbox signs (see conduit/sandbox/jira/sandbox.py), with `changes`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": target.site,
        "aud": CLIENTS["jira"].client_id,
        "sub": "5f-someone",
        "iat": now,
        "exp": now + 180,
        "jti": f"test-{time.monotonic_ns()}",
        "context": {"cloudId": target.cloud_id, "webhookId": int(target.webhook_ids[0])},
    }
    claims.update(changes)
    return claims


def jira_bearer(claims: dict[str, Any], secret: str | None = None) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short test secret is the point of some tests
        key = OctKey.import_key((secret or CLIENTS["jira"].client_secret).encode())
        return "Bearer " + jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post(conduit: Conduit, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as c:
        return await c.post(f"{conduit.url}{path}", headers=headers, content=body)
