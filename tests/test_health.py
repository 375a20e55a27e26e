import httpx


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_reports_database(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


async def test_readyz_says_when_the_database_is_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from conduit.app import create_app
    from tests.conftest import make_settings

    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "db").mkdir()
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db'}", tmp_path)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    await app.state.runtime.close()
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
