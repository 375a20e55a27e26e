"""GraphiQL is served outside production only."""

from __future__ import annotations

import re

import httpx
import pytest

from conduit.schema import ide

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


async def test_graphiql_loads_every_file_from_this_server(client: httpx.AsyncClient) -> None:
    """Offline, GraphiQL must still start: the page names only files the app itself serves."""
    page = await client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    urls = re.findall(r"""(?:src|href)="([^"]+)\"""", page.text)
    assert len(urls) >= 6
    for url in urls:
        assert url.startswith("/graphql/ide/"), url
        r = await client.get(url, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, url
        assert r.headers["cache-control"].endswith("immutable")
    assert "<script>" not in page.text


async def test_graphiql_files_are_a_closed_set(client: httpx.AsyncClient) -> None:
    version = ide.ASSETS.version
    for name in ("../ide.py", "..%2f__init__.py", "views.py", "__init__.py", "ide.html"):
        r = await client.get(f"/graphql/ide/{version}/{name}")
        assert r.status_code == 404, name
