"""A tiny federated schema behind the real view, for behaviour that does not need Conduit's data."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import NewType

import httpx
import pytest
import strawberry
import uvicorn
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from conduit.schema import guards
from conduit.schema.context import Unauthenticated
from conduit.schema.http import ConduitGraphQL
from conduit.settings import Settings
from tests.conftest import free_port, start_in_thread, stop_thread

TOKEN = "good-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMITS = {
    "graphql_max_depth": 4,
    "graphql_max_tokens": 200,
    "graphql_max_aliases": 3,
    "graphql_max_cost": 50,
}
MAX_BODY_BYTES = 64 * 1024


class Refused(GraphQLError):
    def __init__(self) -> None:
        super().__init__("you may not", extensions={"code": "FORBIDDEN"})


@strawberry.federation.type(keys=["id"])
class Thing:
    id: strawberry.ID
    name: str

    @strawberry.field
    def child(self) -> Thing:
        return Thing(id=strawberry.ID(f"{self.id}.c"), name="child")

    @strawberry.field
    def many(self, n: int) -> list[Thing]:
        """A list of objects with no paging arguments: each level of nesting multiplies the answer."""
        return [Thing(id=strawberry.ID(f"{self.id}.{i}"), name="many") for i in range(n)]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Thing:
        return Thing(id=id, name=f"thing {id}")


def parse_even(value: object) -> int:
    if not isinstance(value, int) or value % 2:
        raise ValueError(f"{value!r} is not an even number")
    return value


Even = strawberry.scalar(NewType("Even", int), parse_value=parse_even, serialize=int)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str = "world") -> str:
        return f"hello {name}"

    @strawberry.field
    def half(self, n: Even) -> int:  # type: ignore[valid-type]
        return int(n) // 2

    @strawberry.field
    def thing(self) -> Thing:
        return Thing(id=strawberry.ID("1"), name="one")

    @strawberry.field
    async def stall(self) -> str | None:
        """Never answers: only the time budget ends it."""
        await asyncio.Event().wait()
        return None

    @strawberry.field
    def boom(self) -> str | None:
        raise RuntimeError("password=hunter2 leaked from a driver")

    @strawberry.field
    def refused(self) -> str | None:
        raise Refused()


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> bool:
        return True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncIterator[int]:
        yield 1


def make_schema(settings: Settings) -> strawberry.federation.Schema:
    return strawberry.federation.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Thing],
        federation_version="2.9",
        extensions=guards.extensions(settings),
        execution_context_class=guards.PacedExecution,
    )


async def fake_context(request: HTTPConnection) -> object:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        raise Unauthenticated("an API token is required")
    return {"request": request}


def tiny_app(env: str = "test", **overrides: object) -> Starlette:
    values: dict[str, object] = {"env": env, "database_url": "sqlite+aiosqlite://", **LIMITS, **overrides}
    settings = Settings(**values)  # type: ignore[arg-type]
    view = ConduitGraphQL(
        make_schema(settings),
        fake_context,  # type: ignore[arg-type]
        graphql_ide=None if settings.is_production else "graphiql",
        max_body_bytes=MAX_BODY_BYTES,
        timeout=settings.graphql_timeout,
        body_timeout=settings.http_body_timeout,
    )
    return Starlette(routes=[Route("/graphql", view), WebSocketRoute("/graphql", view)])


class Served:
    """An ASGI app on a real uvicorn on loopback, in a thread; `finished` is set as each request ends.

    `errors` collects what the app raised, as uvicorn would log it, so a test can say "nothing escaped".
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.finished = threading.Semaphore(0)
        self.errors: list[BaseException] = []
        config = uvicorn.Config(
            self._tracked, host="127.0.0.1", port=self.port, log_level="warning", interface="asgi3"
        )
        self.server = uvicorn.Server(config)

    async def _tracked(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            self.errors.append(exc)
            raise
        finally:
            if scope["type"] == "http":
                self.finished.release()

    def __enter__(self) -> Served:
        self.thread = start_in_thread(self.server)
        return self

    def __exit__(self, *exc: object) -> None:
        stop_thread(self.server, self.thread)


@pytest.fixture(scope="module")
def tiny() -> Starlette:
    return tiny_app()


@pytest.fixture
async def tiny_client(tiny: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tiny)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
