"""Health series of installations and app endpoints: rows at bucket edges, empty buckets, percentiles
that agree between PostgreSQL and Python, tenancy, scopes, hostile arguments and the cost of asking."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest
from graphql import parse
from graphql.utilities import get_operation_ast

from conduit import ids
from conduit.bootstrap import mint_token
from conduit.db import models
from conduit.db.base import utcnow
from conduit.db.series import Grid, percentile, percentiles
from conduit.runtime import Runtime
from conduit.schema.cost import operation_cost
from conduit.schema.series import MAX_LOOKBACK
from conduit.sync import health
from conduit.webhooks import log
from tests.conftest import Tenant
from tests.schema.conftest import Execute, _schema

US = timedelta(microseconds=1)
FIVE_MINUTES = timedelta(minutes=5)

INSTALLATION_SERIES = """
query($id: ID!, $window: HealthWindow!, $until: DateTime) {
  installation(id: $id) {
    healthSeries(window: $window, until: $until) {
      window bucketSeconds start end
      buckets { start calls errors errorRate p50Ms p95Ms rateLimitRemaining }
    }
  }
}"""
APP_SERIES = """
query($id: ID!, $window: HealthWindow!, $until: DateTime) {
  app(id: $id) {
    healthSeries(window: $window, until: $until) {
      window bucketSeconds start end
      buckets { start attempts failures errorRate p50LatencyMs p95LatencyMs }
    }
  }
}"""


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def make_installation(runtime: Runtime, organization_id: int) -> int:
    async with runtime.sessions() as session:
        inst = models.Installation(
            organization_id=organization_id,
            provider="github",
            account_id=secrets.token_hex(3),
            status=models.InstallationStatus.ACTIVE,
        )
        session.add(inst)
        await session.commit()
        return inst.id


async def add_calls(
    runtime: Runtime,
    organization_id: int,
    installation_id: int,
    calls: list[tuple[datetime, int, models.InteractionOutcome, int | None]],
) -> None:
    async with runtime.sessions() as session:
        for at, duration, outcome, remaining in calls:
            session.add(
                models.Interaction(
                    organization_id=organization_id,
                    installation_id=installation_id,
                    created_at=at,
                    operation="get_issue",
                    method="GET",
                    path="/repos/{owner}/{repo}/issues/{number}",
                    http_status=200,
                    duration_ms=duration,
                    outcome=outcome,
                    rate_limit_remaining=remaining,
                )
            )
        await session.commit()


def hour_grid(until: datetime) -> Grid:
    return Grid.ending_now(until, timedelta(hours=1), FIVE_MINUTES)


async def test_installation_series_counts_rows_at_bucket_edges_and_keeps_empty_buckets(
    runtime: Runtime, tenant: Tenant, gql: Execute
) -> None:
    until = utcnow() - timedelta(days=2)
    grid = hour_grid(until)
    start, end = grid.start, grid.end
    inst = await make_installation(runtime, tenant.organization_id)
    ok, fail, halt = (
        models.InteractionOutcome.SUCCESS,
        models.InteractionOutcome.FAILURE,
        models.InteractionOutcome.HALTED,
    )
    await add_calls(
        runtime,
        tenant.organization_id,
        inst,
        [
            (start - US, 999, fail, 0),  # before the window
            (start, 10, ok, None),  # the first instant of the first bucket
            (start + timedelta(minutes=2), 40, halt, 7),
            (start + timedelta(minutes=3), 30, ok, None),
            (start + FIVE_MINUTES - US, 20, fail, 50),  # the last instant of the first bucket
            (start + FIVE_MINUTES, 100, ok, None),  # the first instant of the second
            (end - US, 5, fail, 3),  # the bucket in progress
            (end, 999, fail, 0),  # after the window
        ],
    )
    variables = {"id": ids.encode("Installation", inst), "window": "HOUR", "until": iso(until)}
    series = (await gql(tenant.token, INSTALLATION_SERIES, variables))["installation"]["healthSeries"]
    assert series["window"] == "HOUR" and series["bucketSeconds"] == 300
    assert parse_time(series["start"]) == start and parse_time(series["end"]) == end
    buckets = series["buckets"]
    assert [parse_time(b["start"]) for b in buckets] == [start + FIVE_MINUTES * i for i in range(12)]
    assert buckets[0] == {
        "start": buckets[0]["start"],
        "calls": 4,
        "errors": 2,
        "errorRate": 0.5,
        "p50Ms": 25.0,
        "p95Ms": pytest.approx(38.5),
        "rateLimitRemaining": 7,
    }
    assert buckets[1] | {"start": None} == {
        "start": None,
        "calls": 1,
        "errors": 0,
        "errorRate": 0.0,
        "p50Ms": 100.0,
        "p95Ms": 100.0,
        "rateLimitRemaining": None,
    }
    assert (buckets[11]["calls"], buckets[11]["errors"], buckets[11]["errorRate"]) == (1, 1, 1.0)
    assert buckets[11]["rateLimitRemaining"] == 3
    for empty in buckets[2:11]:
        assert empty | {"start": None} == {
            "start": None,
            "calls": 0,
            "errors": 0,
            "errorRate": 0.0,
            "p50Ms": None,
            "p95Ms": None,
            "rateLimitRemaining": None,
        }


@pytest.mark.parametrize(("window", "count", "step"), [("DAY", 24, 3600), ("WEEK", 28, 6 * 3600)])
async def test_longer_windows_have_their_own_bucket_size(
    runtime: Runtime, tenant: Tenant, gql: Execute, window: str, count: int, step: int
) -> None:
    inst = await make_installation(runtime, tenant.organization_id)
    now = utcnow()
    await add_calls(
        runtime,
        tenant.organization_id,
        inst,
        [(now - timedelta(seconds=1), 12, models.InteractionOutcome.SUCCESS, None)],
    )
    variables = {"id": ids.encode("Installation", inst), "window": window, "until": None}
    series = (await gql(tenant.token, INSTALLATION_SERIES, variables))["installation"]["healthSeries"]
    assert series["bucketSeconds"] == step and len(series["buckets"]) == count
    start = parse_time(series["start"])
    assert start.timestamp() % step == 0, "buckets are aligned, so a refreshed chart shifts by whole buckets"
    assert parse_time(series["end"]) - start == timedelta(seconds=step * count)
    assert sum(b["calls"] for b in series["buckets"]) == 1


async def test_percentiles_agree_with_python_on_both_databases(runtime: Runtime, tenant: Tenant) -> None:
    """On PostgreSQL percentile_cont runs in the query; on SQLite Python does: same rows, same answers."""
    until = utcnow() - timedelta(days=3)
    grid = Grid.ending_now(until, timedelta(days=1), timedelta(hours=1))
    inst = await make_installation(runtime, tenant.organization_id)
    rng = random.Random(1234)
    rows = []
    for _ in range(400):
        at = grid.start + timedelta(microseconds=rng.randrange(int((grid.end - grid.start) / US)))
        rows.append((at, rng.randrange(1, 5000), models.InteractionOutcome.SUCCESS, None))
    # Ties and one-row buckets are where interpolation goes wrong.
    rows += [
        (grid.start + timedelta(hours=5, minutes=m), 70, models.InteractionOutcome.SUCCESS, None)
        for m in range(3)
    ]
    await add_calls(runtime, tenant.organization_id, inst, rows)
    by_bucket: dict[int, list[int]] = {}
    for at, duration, _, _ in rows:
        by_bucket.setdefault(grid.index(at), []).append(duration)
    async with runtime.sessions() as session:
        points = await health.series(session, tenant.organization_id, inst, grid)
    assert len(points) == 24
    for index, point in enumerate(points):
        values = sorted(by_bucket.get(index, []))
        assert point.calls == len(values)
        assert point.p50_ms == pytest.approx(percentile(values, 0.5), rel=1e-12)
        assert point.p95_ms == pytest.approx(percentile(values, 0.95), rel=1e-12)


async def test_another_organization_reads_nothing_of_an_installation(
    runtime: Runtime, tenant: Tenant, tenant2: Tenant, gql: Execute
) -> None:
    inst = await make_installation(runtime, tenant.organization_id)
    now = utcnow()
    await add_calls(
        runtime,
        tenant.organization_id,
        inst,
        [(now - timedelta(seconds=5), 9, models.InteractionOutcome.FAILURE, 1)],
    )
    variables = {"id": ids.encode("Installation", inst), "window": "HOUR", "until": None}
    assert (await gql(tenant2.token, INSTALLATION_SERIES, variables))["installation"] is None
    # Scoped where the query is built: naming the installation with another organization finds no row.
    async with runtime.sessions() as session:
        points = await health.series(session, tenant2.organization_id, inst, hour_grid(now))
    assert all(p.calls == 0 for p in points)


async def test_series_need_their_scope(runtime: Runtime, tenant: Tenant, gql: Execute) -> None:
    inst = await make_installation(runtime, tenant.organization_id)
    async with runtime.sessions() as session:
        _, issues_only = mint_token(session, tenant.organization_id, "issues", ["issue:read"])
        await session.commit()
    variables = {"id": ids.encode("Installation", inst), "window": "HOUR", "until": None}
    result = await gql(issues_only, INSTALLATION_SERIES, variables, ok=False)
    assert result.errors[0].extensions["requiredScope"] == "installation:read"


@pytest.mark.parametrize(
    ("window", "until", "complaint"),
    [
        ("YEAR", None, "HealthWindow"),
        (10**12, None, "HealthWindow"),
        ("HOUR", "yesterday", "DateTime"),
        ("HOUR", "2026-03-02T10:00:00", "time zone"),
        ("HOUR", "0001-01-01T00:00:00Z", f"{MAX_LOOKBACK.days} days"),
    ],
)
async def test_hostile_arguments_are_refused(
    runtime: Runtime, tenant: Tenant, gql: Execute, window: Any, until: str | None, complaint: str
) -> None:
    inst = await make_installation(runtime, tenant.organization_id)
    variables = {"id": ids.encode("Installation", inst), "window": window, "until": until}
    result = await gql(tenant.token, INSTALLATION_SERIES, variables, ok=False)
    assert result.errors and complaint in result.errors[0].message
    assert not (result.data or {}).get("installation")


async def test_an_until_in_the_future_means_now(runtime: Runtime, tenant: Tenant, gql: Execute) -> None:
    inst = await make_installation(runtime, tenant.organization_id)
    variables = {"id": ids.encode("Installation", inst), "window": "HOUR", "until": "9999-12-31T23:59:59Z"}
    before = utcnow()
    series = (await gql(tenant.token, INSTALLATION_SERIES, variables))["installation"]["healthSeries"]
    assert before - FIVE_MINUTES < parse_time(series["end"]) <= utcnow() + FIVE_MINUTES


def test_a_series_is_priced_by_its_weight_and_its_buckets() -> None:
    query = """{ organization { installations(first: 100) { nodes {
        a: healthSeries(window: WEEK) { buckets { calls p50Ms p95Ms } }
        b: healthSeries(window: DAY) { buckets { calls } } } } } }"""
    document = parse(query)
    operation = get_operation_ast(document)
    assert operation is not None
    cost = operation_cost(_schema._schema, document, operation, {}, 10**9)
    # Each series weighs 100, and its buckets count 28 times (the longest series) what they select.
    per_installation = 1 + (100 + 1 + 28 * 3) + (100 + 1 + 28 * 1)
    assert cost.value == 1 + 1 + 100 * per_installation


def test_a_grid_is_a_whole_number_of_whole_second_buckets() -> None:
    now = utcnow()
    with pytest.raises(ValueError, match="whole number"):
        Grid.ending_now(now, timedelta(minutes=7), FIVE_MINUTES)
    with pytest.raises(ValueError, match="whole number of seconds"):
        Grid.ending_now(now, timedelta(seconds=3), timedelta(milliseconds=1500))
    grid = hour_grid(now)
    assert grid.start <= now < grid.end and grid.count == 12


# -- an app's endpoint ------------------------------------------------------------------------------------


async def make_app(gql: Execute, token: str) -> str:
    created = await gql(
        token,
        """mutation($name: String!) { createApp(input: {name: $name, kind: PUBLIC, scopes: ["issue:read"]}) {
             ... on CreateAppPayload { app { id } } } }""",
        {"name": f"series {secrets.token_hex(3)}"},
    )
    return str(created["createApp"]["app"]["id"])


async def add_attempts(
    runtime: Runtime,
    owner_id: int,
    app_id: str,
    attempts: list[tuple[datetime, int, str]],
    test: bool = False,
) -> None:
    app_pk = ids.decode_as(app_id, "App")
    async with runtime.sessions() as session:
        for n, (at, duration, outcome) in enumerate(attempts):
            delivery = models.Delivery(
                app_id=app_pk,
                owner_organization_id=owner_id,
                organization_id=owner_id,
                event_type="issue.created",
                event_id=f"evt_{secrets.token_hex(8)}",
                msg_id=f"msg_{secrets.token_hex(8)}",
                body="{}",
                status=models.DeliveryStatus.SUCCEEDED
                if outcome == "success"
                else models.DeliveryStatus.PENDING,
                attempts=1,
                test=test,
                created_at=at,
            )
            session.add(delivery)
            await session.flush()
            session.add(
                models.DeliveryAttempt(
                    delivery_id=delivery.id,
                    app_id=app_pk,
                    number=n + 1,
                    trigger=models.AttemptTrigger.SCHEDULED,
                    url="http://127.0.0.1:9/hook",
                    started_at=at,
                    duration_ms=duration,
                    status_code=200 if outcome == "success" else 500,
                    outcome=outcome,
                )
            )
        await session.commit()


async def test_app_series_counts_attempts_at_bucket_edges(
    runtime: Runtime, tenant: Tenant, tenant2: Tenant, gql: Execute
) -> None:
    app_id = await make_app(gql, tenant.token)
    until = utcnow() - timedelta(days=1)
    grid = hour_grid(until)
    start = grid.start
    await add_attempts(
        runtime,
        tenant.organization_id,
        app_id,
        [
            (start - US, 1, "retry"),
            (start, 100, "success"),
            (start + FIVE_MINUTES - US, 300, "retry"),
            (start + FIVE_MINUTES, 50, "throttle"),
            (grid.end, 1, "retry"),
        ],
    )
    await add_attempts(
        runtime, tenant.organization_id, app_id, [(start + FIVE_MINUTES, 70, "success")], test=True
    )
    variables = {"id": app_id, "window": "HOUR", "until": iso(until)}
    series = (await gql(tenant.token, APP_SERIES, variables))["app"]["healthSeries"]
    buckets = series["buckets"]
    assert len(buckets) == 12 and series["bucketSeconds"] == 300
    assert buckets[0] | {"start": None} == {
        "start": None,
        "attempts": 2,
        "failures": 1,
        "errorRate": 0.5,
        "p50LatencyMs": 200.0,
        "p95LatencyMs": pytest.approx(290.0),
    }
    # A test event's attempt reached the endpoint like any other.
    assert (buckets[1]["attempts"], buckets[1]["failures"], buckets[1]["p50LatencyMs"]) == (2, 1, 60.0)
    assert all(b["attempts"] == 0 and b["p95LatencyMs"] is None for b in buckets[2:])

    # The organization that only installed the app never reaches it, and naming the app with that
    # organization's id finds no attempt.
    await gql(tenant2.token, "mutation($id: ID!) { installApp(appId: $id) { __typename } }", {"id": app_id})
    assert (await gql(tenant2.token, APP_SERIES, variables))["app"] is None
    async with runtime.sessions() as session:
        points = await log.health_series(session, tenant2.organization_id, ids.decode_as(app_id, "App"), grid)
    assert sum(p.attempts for p in points) == 0


async def test_app_series_needs_webhook_read(runtime: Runtime, tenant: Tenant, gql: Execute) -> None:
    app_id = await make_app(gql, tenant.token)
    async with runtime.sessions() as session:
        _, apps_only = mint_token(session, tenant.organization_id, "apps", ["app:read"])
        await session.commit()
    result = await gql(apps_only, APP_SERIES, {"id": app_id, "window": "DAY", "until": None}, ok=False)
    assert result.errors[0].extensions["requiredScope"] == "webhook:read"
    admin = await gql(tenant.token, APP_SERIES, {"id": app_id, "window": "DAY", "until": None})
    assert len(admin["app"]["healthSeries"]["buckets"]) == 24


async def test_percentiles_of_an_empty_grid_are_empty(runtime: Runtime) -> None:
    grid = hour_grid(utcnow() - timedelta(days=80))
    async with runtime.sessions() as session:
        found = await percentiles(
            session,
            grid,
            models.Interaction.created_at,
            models.Interaction.duration_ms,
            [models.Interaction.id < 0],
        )
    assert found == {}
