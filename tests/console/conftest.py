"""A real server on loopback, organizations with members who have passwords, and a browser-like client.

Every test signs in from an address of its own (`X-Forwarded-For`, which uvicorn honours from loopback),
so the per-address sign-in throttle of one test never meets another's.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conduit import ids
from conduit.auth import passwords, sessions
from conduit.bootstrap import bootstrap
from conduit.db.models import Member, MemberRole
from conduit.runtime import Runtime
from tests.conftest import LiveServer

PASSWORD = "correct horse battery staple"
# Hashing is deliberately slow: one hash serves every member made here.
PASSWORD_HASH = passwords.hash_password(PASSWORD)


@pytest.fixture(scope="module")
def server(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime.settings) as live:
        yield live


@dataclass
class Org:
    id: int
    slug: str
    token: str
    project_id: int

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Person:
    id: int
    email: str
    organization_id: int

    @property
    def gid(self) -> str:
        return ids.encode("Member", self.id)


async def make_org(runtime: Runtime) -> Org:
    name = f"org {secrets.token_hex(4)}"
    async with runtime.sessions() as session:
        result = await bootstrap(session, name, "backend", runtime.settings.public_url)
    return Org(result.organization_id, name.replace(" ", "-"), result.token, result.project_id)


async def make_person(
    runtime: Runtime,
    org: Org,
    role: MemberRole = MemberRole.MEMBER,
    email: str | None = None,
    password_hash: str | None = PASSWORD_HASH,
) -> Person:
    email = email or f"{secrets.token_hex(4)}@example.com"
    async with runtime.sessions() as session:
        row = Member(
            organization_id=org.id, email=email, name="Someone", role=role, password_hash=password_hash
        )
        session.add(row)
        await session.commit()
        return Person(row.id, email, org.id)


@pytest.fixture
async def org(runtime: Runtime) -> Org:
    return await make_org(runtime)


@pytest.fixture
async def other_org(runtime: Runtime) -> Org:
    return await make_org(runtime)


@pytest.fixture
async def member(runtime: Runtime, org: Org) -> Person:
    return await make_person(runtime, org)


@pytest.fixture
async def admin(runtime: Runtime, org: Org) -> Person:
    return await make_person(runtime, org, MemberRole.ADMIN)


def client_address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


class Browser:
    """What a browser on the console's own pages sends: its cookies, its Origin, the CSRF header it read."""

    def __init__(self, http: httpx.AsyncClient, origin: str) -> None:
        self.http = http
        self.origin = origin
        self.csrf: str | None = None

    async def sign_in(self, email: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
        response = await self.http.post(
            "/console/sign-in",
            json={"email": email, "password": password, **extra},
            headers={"Origin": self.origin},
        )
        if response.status_code == 200:
            self.csrf = response.json()["csrfToken"]
        return response

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {"Origin": self.origin}
        if self.csrf:
            sent[sessions.CSRF_HEADER] = self.csrf
        sent.update(headers or {})
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.graphql(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"])

    @property
    def cookie(self) -> str | None:
        return self.http.cookies.get(sessions.COOKIE_NAME)


@pytest.fixture
async def browser(server: LiveServer) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(
        base_url=server.url, headers={"X-Forwarded-For": client_address()}, timeout=30
    ) as http:
        yield Browser(http, server.url)


@pytest.fixture
async def browser2(server: LiveServer) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(
        base_url=server.url, headers={"X-Forwarded-For": client_address()}, timeout=30
    ) as http:
        yield Browser(http, server.url)


async def bearer(
    server: LiveServer, org: Org, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=org.auth
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])
