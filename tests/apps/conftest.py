"""Fixtures for apps, OAuth, deliveries and subscriptions: a runtime that allows loopback webhook URLs,
a verifying receiver, GraphQL as a given token, and fast job settings."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from conduit.app import create_app
from conduit.auth.bearer import authenticate
from conduit.jobs.config import JobsSettings
from conduit.resolvers import build_schema
from conduit.runtime import Runtime
from conduit.schema.context import context_for
from tests.apps.receiver import Receiver

_schema = build_schema()

CREATE_APP = """
mutation($input: CreateAppInput!) {
  createApp(input: $input) {
    __typename
    ... on CreateAppPayload { app { id clientId } clientSecret webhookSecret installation { id } }
    ... on UserError { message }
    ... on ValidationError { field }
  }
}"""
INSTALL = """
mutation($id: ID!) {
  installApp(appId: $id) {
    __typename
    ... on InstallAppPayload { installation { id status } code redirectUrl }
    ... on UserError { message }
  }
}"""


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture(scope="session")
async def rt(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The test database, with loopback webhook URLs allowed (CONDUIT_ALLOW_PRIVATE_WEBHOOK_URLS)."""
    own = Runtime.create(runtime.settings.model_copy(update={"allow_private_webhook_urls": True}))
    yield own
    await own.close()


@pytest.fixture(scope="session")
def apps_app(rt: Runtime) -> Starlette:
    return create_app(runtime=rt)


@pytest.fixture
async def http(apps_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=apps_app), base_url="http://testserver"
    ) as c:
        yield c


@pytest.fixture
def fast_jobs() -> JobsSettings:
    return JobsSettings(
        handover_lease_seconds=2,
        lease_grace_seconds=1,
        poll_interval_seconds=0.1,
        sweep_interval_seconds=0.3,
        queue_name=f"conduit:test:{secrets.token_hex(4)}",
    )


class GQL:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        async with self.runtime.sessions() as session:
            viewer = await authenticate(session, token)
        assert viewer is not None, "token did not authenticate"
        result = await _schema.execute(
            query, variable_values=variables, context_value=context_for(self.runtime, viewer)
        )
        assert result.errors is None, result.errors
        return result.data

    async def create_app(self, token: str, **fields: Any) -> dict[str, Any]:
        data = {"name": f"app {secrets.token_hex(3)}", "kind": "PUBLIC", "scopes": ["issue:read"], **fields}
        out = (await self(token, CREATE_APP, {"input": data}))["createApp"]
        assert out["__typename"] == "CreateAppPayload", out
        return dict(out)

    async def install(self, token: str, app_id: str) -> dict[str, Any]:
        out = (await self(token, INSTALL, {"id": app_id}))["installApp"]
        assert out["__typename"] == "InstallAppPayload", out
        return dict(out)


@pytest.fixture
def gql(rt: Runtime) -> GQL:
    return GQL(rt)


# The job tests' private Redis database and worker helpers, shared rather than copied.
from tests.jobs.conftest import (  # noqa: E402, F401
    api_side,
    arq_worker,
    distributed_runtime,
    redis,
    redis_url,
    wait_for,
)


@pytest.fixture(params=["embedded", "arq"])
async def jobs_runtime(
    request: pytest.FixtureRequest,
    rt: Runtime,
    fast_jobs: JobsSettings,
    redis_url: str,  # noqa: F811 - the fixture imported above
    redis: Any,  # noqa: F811
) -> AsyncIterator[Runtime]:
    """A running job system: embedded (SQLite and PostgreSQL), or arq workers on Redis (PostgreSQL)."""
    if request.param == "embedded":
        async with api_side(rt, fast_jobs):
            yield rt
        return
    if rt.settings.is_sqlite:
        pytest.skip("arq workers run against PostgreSQL")
    distributed = distributed_runtime(rt, redis_url)
    try:
        async with api_side(distributed, fast_jobs), arq_worker(distributed, fast_jobs):
            yield distributed
    finally:
        await distributed.close()
