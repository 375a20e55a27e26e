"""Token refresh: before expiry, once for many callers, keeping what a reply leaves out."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from conduit.connectors import Connectors, TicketDraft
from conduit.connectors.records import TokenSet
from conduit.connectors.registry import provider
from conduit.db.base import utcnow
from conduit.db.models import Installation, InstallationStatus
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.connectors.conftest import Tracker, install, interactions, make_connectors, status_of
from tests.connectors.drivers import KEYS, oauth_only

DRAFT = TicketDraft(title="TimeoutError", summary="", issue_url="http://testserver/issues/9")
CALLERS = 100


async def _expire(runtime: Runtime, tracker: Tracker, installation_id: int) -> int:
    """End the access token at the tracker and make the stored one due; returns the stored version."""
    row = await status_of(runtime, installation_id)
    assert row.access_token_enc is not None
    await tracker.expire(runtime.secrets.decrypt(row.access_token_enc))
    async with runtime.sessions() as session:
        await session.execute(
            update(Installation)
            .where(Installation.id == installation_id)
            .values(token_expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    return row.credentials_version


async def _token_calls(tracker: Tracker) -> int:
    return int((await tracker.calls())["by_route"].get("oauth.token", 0))


async def test_concurrent_callers_share_one_refresh(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    oauth_only(tracker.key)
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    key = (await connector.create_ticket(tracker.scope, DRAFT)).key
    installation_id = connector.api.target.installation_id
    version = await _expire(runtime, tracker, installation_id)
    await tracker.clear_calls()

    results = await asyncio.gather(*(connector.get_ticket(key) for _ in range(CALLERS)))

    assert [r.key for r in results] == [key] * CALLERS
    assert await _token_calls(tracker) == 1
    row = await status_of(runtime, installation_id)
    assert row.credentials_version == version + 1
    assert row.token_expires_at is not None and row.token_expires_at > utcnow()


async def test_processes_share_one_refresh(
    runtime: Runtime, tracker: Tracker, tenant: Tenant, database_url: str
) -> None:
    """Several services (as in several worker processes) on PostgreSQL: the row lock collapses them.

    Refresh tokens rotate, so a second refresh with the same one would break the grant (some trackers
    then revoke it whole).
    """
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite deployments run one process; the in-process single flight covers them")
    oauth_only(tracker.key)
    services = [make_connectors(runtime, tracker) for _ in range(4)]
    try:
        first = (await install(runtime, services[0], tracker, tenant)).connector
        key = (await first.create_ticket(tracker.scope, DRAFT)).key
        installation_id = first.api.target.installation_id
        await _expire(runtime, tracker, installation_id)
        await tracker.clear_calls()
        connectors = [await s.connector(installation_id) for s in services]
        results = await asyncio.gather(*(c.get_ticket(key) for c in connectors for _ in range(CALLERS // 4)))
        assert len(results) == CALLERS
        assert await _token_calls(tracker) == 1
    finally:
        for service in services:
            await service.aclose()


async def test_refused_token_is_refreshed_once_and_retried(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    oauth_only(tracker.key)
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    key = (await connector.create_ticket(tracker.scope, DRAFT)).key
    installation_id = connector.api.target.installation_id
    row = await status_of(runtime, installation_id)
    assert row.access_token_enc is not None
    # The tracker ended the token early; the stored expiry still says it is good.
    await tracker.expire(runtime.secrets.decrypt(row.access_token_enc))

    assert (await connector.get_ticket(key)).key == key
    gets = [
        r.http_status for r in await interactions(runtime, installation_id) if r.operation == "ticket.get"
    ]
    assert gets[-2:] == [401, 200]
    assert (await status_of(runtime, installation_id)).status is InstallationStatus.ACTIVE


@pytest.mark.parametrize("key", KEYS)
def test_reply_without_refresh_token_keeps_the_old_one(
    runtime: Runtime, connectors: Connectors, key: str
) -> None:
    spec = provider(key)
    values = connectors.credentials.token_values(spec, TokenSet("new-access", None, 3600), "old-refresh")
    assert runtime.secrets.decrypt(str(values["refresh_token_enc"])) == "old-refresh"
    assert runtime.secrets.decrypt(str(values["access_token_enc"])) == "new-access"


@pytest.mark.parametrize("key", KEYS)
def test_reply_without_expires_in_gets_the_default_lifetime(connectors: Connectors, key: str) -> None:
    spec = provider(key)
    values = connectors.credentials.token_values(spec, TokenSet("a", "r", None), None)
    expires = values["token_expires_at"]
    if spec.refresh.default_lifetime is None:
        assert expires is None
    else:
        assert expires is not None
        lifetime = (expires - utcnow()).total_seconds()  # type: ignore[operator]
        assert spec.refresh.default_lifetime - 60 < lifetime <= spec.refresh.default_lifetime
    # A token with nothing to refresh it (e.g. an OAuth App token that never expires) is good until revoked.
    assert (
        connectors.credentials.token_values(spec, TokenSet("a", None, None), None)["token_expires_at"] is None
    )
