"""GraphiQL is served outside production only."""

from __future__ import annotations

import httpx
import pytest

from .conftest import tiny_app

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.parametrize("env", ["development", "test"])
async def test_graphiql_is_served_outside_production(env: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tiny_app(env)), base_url="http://t") as c:
        r = await c.get("/graphql", headers=HTML)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "graphiql" in r.text.lower()


async def test_graphiql_is_off_in_production() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=tiny_app("production")), base_url="http://t"
    ) as c:
        r = await c.get("/graphql", headers=HTML)
    assert r.status_code == 405
    assert "graphiql" not in r.text.lower()
