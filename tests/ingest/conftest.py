"""Fixtures for ingest tests: an app with small size limits, on the same database as the shared one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conduit.app import create_app
from conduit.runtime import Runtime
from tests.conftest import make_settings

SMALL_COMPRESSED = 4_000
SMALL_DECOMPRESSED = 20_000


@pytest.fixture
async def limited_client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        database_url,
        tmp_path,
        ingest_max_compressed_bytes=SMALL_COMPRESSED,
        ingest_max_decompressed_bytes=SMALL_DECOMPRESSED,
    )
    rt = Runtime.create(settings)
    transport = httpx.ASGITransport(app=create_app(runtime=rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    await rt.close()
