"""An installation's latest calls to its tracker, as the console shows them: bounded, newest first, and
this organization's only."""

from __future__ import annotations

from datetime import timedelta

from conduit import ids
from conduit.db.base import utcnow
from conduit.db.models import Installation, InstallationStatus, Interaction, InteractionOutcome
from conduit.runtime import Runtime
from conduit.sync.health import MAX_RECENT
from tests.conftest import Tenant
from tests.schema.conftest import Execute

CALLS = """query($id: ID!, $n: Int!) { installation(id: $id) {
  interactions(latest: $n) { operation httpStatus durationMs outcome error createdAt } } }"""


async def test_an_installations_latest_calls_are_bounded_and_newest_first(
    runtime: Runtime, gql: Execute, tenant: Tenant, tenant2: Tenant
) -> None:
    now = utcnow()
    async with runtime.sessions() as session:
        mine = Installation(
            organization_id=tenant.organization_id, provider="github", status=InstallationStatus.ACTIVE
        )
        session.add(mine)
        await session.flush()
        for n in range(MAX_RECENT + 5):
            session.add(
                Interaction(
                    organization_id=tenant.organization_id,
                    installation_id=mine.id,
                    operation=f"call-{n}",
                    method="GET",
                    path="/repos/{owner}/{repo}",
                    http_status=200 if n % 2 else 502,
                    duration_ms=n,
                    outcome=InteractionOutcome.SUCCESS if n % 2 else InteractionOutcome.FAILURE,
                    error=None if n % 2 else "502 from the tracker",
                    created_at=now - timedelta(seconds=MAX_RECENT + 5 - n),
                )
            )
        await session.commit()
        gid = ids.encode("Installation", mine.id)

    calls = (await gql(tenant.token, CALLS, {"id": gid, "n": 3}))["installation"]["interactions"]
    assert [c["operation"] for c in calls] == [f"call-{MAX_RECENT + 4 - i}" for i in range(3)]
    assert calls[0]["outcome"] == "failure" and calls[0]["error"] == "502 from the tracker"
    assert (
        len((await gql(tenant.token, CALLS, {"id": gid, "n": 10**6}))["installation"]["interactions"])
        == MAX_RECENT
    )
    for silly in (0, -5):
        assert (
            len((await gql(tenant.token, CALLS, {"id": gid, "n": silly}))["installation"]["interactions"])
            == 1
        )
    # Another organization does not see the installation, so neither its calls.
    assert (await gql(tenant2.token, CALLS, {"id": gid, "n": 3}))["installation"] is None
