"""The console's page and files over HTTP: one shell for every console URL, versioned files cached for
good, compressed when asked, and nothing outside the set reachable by any path."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from conduit.console import static

BASE = f"{static.ASSET_PREFIX}/{static.ASSETS.version}"
IMPORT = re.compile(r"""(?:from|import)\s*\(?\s*["'](\.{1,2}/[^"'$]+)["']""")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=static.routes)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as c:
        yield c


@pytest.mark.parametrize(
    "path", ["/", "/issues", "/issues/SXNzdWU6MQ", "/apps/QXBwOjE", "/sign-in", "/jobs/"]
)
async def test_every_console_url_answers_the_shell(http: httpx.AsyncClient, path: str) -> None:
    r = await http.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert f'<script type="module" src="{BASE}/js/app.js">' in r.text
    assert "{{" not in r.text


async def test_a_url_the_console_does_not_route_is_not_found(http: httpx.AsyncClient) -> None:
    assert (await http.get("/nothing-here")).status_code == 404
    assert (await http.post("/issues")).status_code == 405


async def test_the_shell_and_files_load_nothing_from_elsewhere(http: httpx.AsyncClient) -> None:
    shell = (await http.get("/")).text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", shell)
    for name, asset in static.ASSETS.assets.items():
        text = asset.body.decode()
        assert not re.search(r"""(import|from)\s*\(?\s*["']https?:""", text), name
        assert "cdn" not in text.lower() and "unpkg" not in text.lower(), name


async def test_every_module_the_shell_preloads_is_served_and_every_import_resolves() -> None:
    names = set(static.ASSETS.names())
    modules = {n for n in names if n.endswith(".js")}
    assert {"js/app.js", "js/api.js", "js/pages/issues.js"} <= modules
    for name in modules:
        text = static.ASSETS.assets[name].body.decode()
        for spec in IMPORT.findall(text):
            base = name.rsplit("/", 1)[0].split("/")
            for part in spec.split("/"):
                if part == "..":
                    base.pop()
                elif part != ".":
                    base.append(part)
            assert "/".join(base) in names, f"{name} imports {spec}, which is not served"
    shell = static.SHELL.decode()
    for name in modules:
        assert f'<link rel="modulepreload" href="{BASE}/{name}">' in shell


async def test_files_are_cached_for_good_and_revalidated_by_etag(http: httpx.AsyncClient) -> None:
    r = await http.get(f"{BASE}/js/app.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["x-content-type-options"] == "nosniff"
    again = await http.get(f"{BASE}/js/app.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_files_are_gzipped_only_for_a_client_that_accepts_it(http: httpx.AsyncClient) -> None:
    plain = static.ASSETS.assets["css/console.css"].body
    r = await http.get(f"{BASE}/css/console.css", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.content == plain  # httpx decodes it
    assert int(r.headers["content-length"]) < len(plain)
    for refused in ("identity", "gzip;q=0", "br", ""):
        r = await http.get(f"{BASE}/css/console.css", headers={"Accept-Encoding": refused})
        assert "content-encoding" not in r.headers, refused
        assert r.content == plain


async def test_an_old_version_gets_todays_file_revalidated_not_kept(http: httpx.AsyncClient) -> None:
    r = await http.get(f"{static.ASSET_PREFIX}/000000000000/js/app.js")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/../../pyproject.toml",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/..%2f..%2fstatic.py",
        "/index.html",
        "/js/../../static.py",
        "//etc/passwd",
        "/js/app.js%00.css",
        "/" + "a" * 5000,
        "/js/APP.JS",
        "/js",
    ],
)
async def test_no_path_reaches_beyond_the_files(http: httpx.AsyncClient, path: str) -> None:
    r = await http.get(BASE + path)
    # A path a client normalises out of the asset prefix may meet the router's trailing-slash redirect.
    assert r.status_code in (404, 307)
    assert b"import" not in r.content


async def test_the_issues_page_moves_well_under_its_budget_compressed() -> None:
    # Everything the first visit to /issues fetches: the shell, the stylesheet and every module.
    shell = len(gzip.compress(static.SHELL))
    files = sum(
        len(asset.gzipped or asset.body)
        for name, asset in static.ASSETS.assets.items()
        if name != "index.html"
    )
    assert shell + files < 300 * 1024
