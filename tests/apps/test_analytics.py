"""Partner analytics: installs and uninstalls as they happen, events delivered, API calls of app tokens
counted over real HTTP, rows at bucket edges, and an owner's figures that no other organization reads."""

from __future__ import annotations

import asyncio
import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conduit import ids
from conduit.apps import analytics
from conduit.auth.bearer import authenticate
from conduit.bootstrap import mint_token
from conduit.db import models
from conduit.db.base import utcnow
from conduit.db.series import Grid
from conduit.runtime import Runtime
from conduit.schema.context import context_for
from tests.apps.conftest import GQL, _schema
from tests.conftest import LiveServer, Tenant

US = timedelta(microseconds=1)
HOUR_STEP = timedelta(hours=1)
ANALYTICS = """
query($id: ID!, $window: HealthWindow!, $until: DateTime) {
  app(id: $id) {
    analytics(window: $window, until: $until) {
      window bucketSeconds start end activeInstallations
      buckets { start installs uninstalls events eventsDelivered eventsFailed apiCalls apiErrors apiErrorRate }
    }
  }
}"""
UNINSTALL = "mutation($id: ID!) { uninstallApp(installationId: $id) { __typename } }"


async def run(runtime: Runtime, token: str, query: str, variables: dict[str, Any]) -> Any:
    """The whole result, errors included."""
    async with runtime.sessions() as session:
        viewer = await authenticate(session, token)
    assert viewer is not None
    return await _schema.execute(query, variable_values=variables, context_value=context_for(runtime, viewer))


async def totals(gql: GQL, token: str, app_id: str) -> dict[str, Any]:
    """The last hour's figures summed over its buckets, so a bucket edge passing mid-test changes nothing."""
    out = (await gql(token, ANALYTICS, {"id": app_id, "window": "HOUR", "until": None}))["app"]["analytics"]
    keys = ("installs", "uninstalls", "events", "eventsDelivered", "eventsFailed", "apiCalls", "apiErrors")
    summed: dict[str, Any] = {k: sum(b[k] for b in out["buckets"]) for k in keys}
    summed["active"] = out["activeInstallations"]
    return summed


async def test_installs_and_uninstalls_are_counted_as_they_happen(
    gql: GQL, rt: Runtime, tenant: Tenant, tenant2: Tenant
) -> None:
    app = await gql.create_app(tenant.token)
    app_id = app["app"]["id"]
    assert await totals(gql, tenant.token, app_id) == {
        "installs": 0,
        "uninstalls": 0,
        "events": 0,
        "eventsDelivered": 0,
        "eventsFailed": 0,
        "apiCalls": 0,
        "apiErrors": 0,
        "active": 0,
    }
    first = await gql.install(tenant2.token, app_id)
    await gql.install(tenant2.token, app_id)  # a fresh grant code for the same installation: no install
    await gql(tenant2.token, UNINSTALL, {"id": first["installation"]["id"]})
    await gql(tenant2.token, UNINSTALL, {"id": first["installation"]["id"]})  # already gone: nothing
    await gql.install(tenant2.token, app_id)  # reinstalled: the same row, a second install
    await gql.install(tenant.token, app_id)
    seen = await totals(gql, tenant.token, app_id)
    assert (seen["installs"], seen["uninstalls"], seen["active"]) == (3, 1, 2)

    internal = await gql.create_app(tenant.token, kind="INTERNAL")
    seen = await totals(gql, tenant.token, internal["app"]["id"])
    assert (seen["installs"], seen["active"]) == (1, 1)


async def test_an_install_awaiting_its_code_counts_when_the_code_is_exchanged(
    http: httpx.AsyncClient, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app = await gql.create_app(tenant.token, verifyInstall=True)
    app_id = app["app"]["id"]
    pending = await gql.install(tenant2.token, app_id)
    assert pending["installation"]["status"] == "PENDING"
    assert (await totals(gql, tenant.token, app_id))["installs"] == 0
    creds = base64.b64encode(f"{app['app']['clientId']}:{app['clientSecret']}".encode()).decode()
    r = await http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": pending["code"]},
        headers={"Authorization": f"Basic {creds}"},
    )
    assert r.status_code == 200, r.text
    seen = await totals(gql, tenant.token, app_id)
    assert (seen["installs"], seen["active"]) == (1, 1)
    # One that never got that far is no uninstall when it goes.
    other = await gql.create_app(tenant.token, verifyInstall=True)
    never = await gql.install(tenant2.token, other["app"]["id"])
    await gql(tenant2.token, UNINSTALL, {"id": never["installation"]["id"]})
    assert (await totals(gql, tenant.token, other["app"]["id"]))["uninstalls"] == 0


async def test_api_calls_of_app_tokens_are_counted_over_http(
    runtime: Runtime, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app = await gql.create_app(tenant.token, scopes=["issue:read"])
    app_id = app["app"]["id"]
    install = await gql.install(tenant2.token, app_id)
    creds = base64.b64encode(f"{app['app']['clientId']}:{app['clientSecret']}".encode()).decode()
    with LiveServer(runtime.settings) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            r = await client.post(
                "/oauth/token",
                data={"grant_type": "authorization_code", "code": install["code"]},
                headers={"Authorization": f"Basic {creds}"},
            )
            assert r.status_code == 200, r.text
            bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
            for _ in range(2):
                ok = await client.post("/graphql", json={"query": "{ viewer { scopes } }"}, headers=bearer)
                assert ok.status_code == 200 and "errors" not in ok.json()
            refused = await client.post("/graphql", json={"query": "{ apps { id } }"}, headers=bearer)
            assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            broken = await client.post(
                "/graphql", content=b"{not json", headers={**bearer, "Content-Type": "application/json"}
            )
            assert broken.status_code == 400
            # Neither an unknown token nor the installing organization's own token is the app's call.
            stranger = {"Authorization": "Bearer cda_" + secrets.token_urlsafe(32)}
            gone = await client.post("/graphql", json={"query": "{ viewer { scopes } }"}, headers=stranger)
            assert gone.status_code == 401
            own = await client.post("/graphql", json={"query": "{ viewer { scopes } }"}, headers=tenant2.auth)
            assert own.status_code == 200
    seen = await totals(gql, tenant.token, app_id)
    assert (seen["apiCalls"], seen["apiErrors"]) == (4, 2)
    out = await gql(tenant.token, ANALYTICS, {"id": app_id, "window": "HOUR", "until": None})
    for bucket in out["app"]["analytics"]["buckets"]:
        expected = bucket["apiErrors"] / bucket["apiCalls"] if bucket["apiCalls"] else 0.0
        assert bucket["apiErrorRate"] == pytest.approx(expected)


async def test_figures_fall_in_buckets_by_their_time(
    rt: Runtime, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app = await gql.create_app(tenant.token)
    app_id = app["app"]["id"]
    app_pk = ids.decode_as(app_id, "App")
    other_pk = ids.decode_as((await gql.create_app(tenant.token))["app"]["id"], "App")
    install = await gql.install(tenant2.token, app_id)
    inst_pk = ids.decode_as(install["installation"]["id"], "AppInstallation")
    until = utcnow() - timedelta(days=3)
    grid = Grid.ending_now(until, timedelta(days=1), HOUR_STEP)
    start = grid.start
    owner = tenant.organization_id

    def change(at: datetime, kind: models.InstallChange) -> models.AppInstallationChange:
        return models.AppInstallationChange(
            organization_id=owner, app_id=app_pk, installation_id=inst_pk, change=kind, created_at=at
        )

    def delivery(at: datetime, status: models.DeliveryStatus, app: int = app_pk, test: bool = False) -> Any:
        return models.Delivery(
            app_id=app,
            owner_organization_id=owner,
            organization_id=tenant2.organization_id,
            event_type="issue.created",
            event_id=f"evt_{secrets.token_hex(8)}",
            msg_id=f"msg_{secrets.token_hex(8)}",
            body="{}",
            status=status,
            test=test,
            created_at=at,
        )

    installed, uninstalled = models.InstallChange.INSTALLED, models.InstallChange.UNINSTALLED
    ok, failed, pending = (
        models.DeliveryStatus.SUCCEEDED,
        models.DeliveryStatus.FAILED,
        models.DeliveryStatus.PENDING,
    )
    async with rt.sessions() as session:
        session.add_all(
            [
                change(start - US, installed),
                change(start, installed),
                change(start + HOUR_STEP - US, uninstalled),
                change(start + HOUR_STEP, installed),
                change(grid.end, installed),
                delivery(start, ok),
                delivery(start + HOUR_STEP - US, failed),
                delivery(start + HOUR_STEP - US, pending),
                delivery(start + HOUR_STEP - US, ok, test=True),
                delivery(start + HOUR_STEP, ok, app=other_pk),
                delivery(grid.end - US, ok),
                models.AppApiUsage(
                    organization_id=owner,
                    app_id=app_pk,
                    minute=start - timedelta(minutes=1),
                    calls=9,
                    errors=9,
                ),
                models.AppApiUsage(organization_id=owner, app_id=app_pk, minute=start, calls=3, errors=0),
                models.AppApiUsage(
                    organization_id=owner,
                    app_id=app_pk,
                    minute=start + timedelta(minutes=59),
                    calls=1,
                    errors=1,
                ),
                models.AppApiUsage(
                    organization_id=owner, app_id=app_pk, minute=start + HOUR_STEP, calls=5, errors=1
                ),
            ]
        )
        await session.commit()
    variables = {"id": app_id, "window": "DAY", "until": until.isoformat()}
    out = (await gql(tenant.token, ANALYTICS, variables))["app"]["analytics"]
    assert (out["window"], out["bucketSeconds"], len(out["buckets"])) == ("DAY", 3600, 24)
    assert datetime.fromisoformat(out["start"]) == start
    first, second, last = out["buckets"][0], out["buckets"][1], out["buckets"][-1]
    assert first | {"start": None} == {
        "start": None,
        "installs": 1,
        "uninstalls": 1,
        "events": 3,
        "eventsDelivered": 1,
        "eventsFailed": 1,
        "apiCalls": 4,
        "apiErrors": 1,
        "apiErrorRate": 0.25,
    }
    assert (second["installs"], second["events"], second["apiCalls"], second["apiErrorRate"]) == (
        1,
        0,
        5,
        0.2,
    )
    assert (last["events"], last["eventsDelivered"], last["installs"]) == (1, 1, 0)
    for empty in out["buckets"][2:-1]:
        assert empty["installs"] == empty["events"] == empty["apiCalls"] == 0 and empty["apiErrorRate"] == 0


async def test_only_the_owner_reads_an_apps_analytics(
    rt: Runtime, gql: GQL, tenant: Tenant, tenant2: Tenant
) -> None:
    app = await gql.create_app(tenant.token)
    app_id = app["app"]["id"]
    await gql.install(tenant2.token, app_id)
    await analytics.count_call(rt, ids.decode_as(app_id, "App"), failed=False)
    # The installing organization knows the app's id and cannot reach it.
    assert (await gql(tenant2.token, ANALYTICS, {"id": app_id, "window": "HOUR", "until": None}))[
        "app"
    ] is None
    # Scoped where the query is built: naming the app with the installer's organization finds nothing.
    async with rt.sessions() as session:
        seen = await analytics.analytics(
            session,
            tenant2.organization_id,
            ids.decode_as(app_id, "App"),
            Grid.ending_now(utcnow(), timedelta(hours=1), timedelta(minutes=5)),
        )
    assert seen.active_installations == 0
    assert sum(p.installs + p.api_calls + p.events for p in seen.points) == 0
    # The owner sees it with `app:read`, not with webhook scopes alone.
    async with rt.sessions() as session:
        _, apps = mint_token(session, tenant.organization_id, "apps", ["app:read"])
        _, hooks = mint_token(session, tenant.organization_id, "hooks", ["webhook:read"])
        await session.commit()
    variables = {"id": app_id, "window": "HOUR", "until": None}
    assert (await run(rt, apps, ANALYTICS, variables)).data["app"]["analytics"]["activeInstallations"] == 1
    refused = await run(rt, hooks, ANALYTICS, variables)
    assert refused.errors[0].extensions["requiredScope"] == "app:read"


@pytest.mark.parametrize(
    ("window", "until", "complaint"),
    [
        ("MONTH", None, "HealthWindow"),
        ("HOUR", "2026-03-02 10:00", "time zone"),
        ("WEEK", "1970-01-01T00:00:00Z", "days ago"),
        ("WEEK", "x" * 10_000, "DateTime"),
    ],
)
async def test_hostile_arguments_are_refused(
    rt: Runtime, gql: GQL, tenant: Tenant, window: str, until: str | None, complaint: str
) -> None:
    app = await gql.create_app(tenant.token)
    result = await run(
        rt, tenant.token, ANALYTICS, {"id": app["app"]["id"], "window": window, "until": until}
    )
    assert result.errors and complaint in result.errors[0].message
    assert not (result.data or {}).get("app")


async def test_concurrent_calls_are_all_counted(rt: Runtime, gql: GQL, tenant: Tenant) -> None:
    app = await gql.create_app(tenant.token)
    app_pk = ids.decode_as(app["app"]["id"], "App")
    await asyncio.gather(*(analytics.count_call(rt, app_pk, failed=n % 5 == 0) for n in range(20)))
    async with rt.sessions() as session:
        calls, errors = (
            await session.execute(
                select(func.sum(models.AppApiUsage.calls), func.sum(models.AppApiUsage.errors)).where(
                    models.AppApiUsage.app_id == app_pk
                )
            )
        ).one()
    assert (calls, errors) == (20, 4)


async def test_counters_past_the_retention_are_pruned(rt: Runtime, gql: GQL, tenant: Tenant) -> None:
    app = await gql.create_app(tenant.token)
    app_pk = ids.decode_as(app["app"]["id"], "App")
    now = utcnow().replace(second=0, microsecond=0)
    async with rt.sessions() as session:
        for age in (analytics.RETENTION + timedelta(minutes=1), timedelta(days=1)):
            session.add(
                models.AppApiUsage(
                    organization_id=tenant.organization_id, app_id=app_pk, minute=now - age, calls=1, errors=0
                )
            )
        await session.commit()
    assert await analytics.prune(rt) >= 1
    async with rt.sessions() as session:
        left = (
            (
                await session.execute(
                    select(models.AppApiUsage.minute).where(models.AppApiUsage.app_id == app_pk)
                )
            )
            .scalars()
            .all()
        )
    assert left == [now - timedelta(days=1)]
