"""The console in a real browser: headless Chromium from the OS package, driven by Playwright, against
Conduit served on loopback with its job runner, the sandbox trackers and a webhook receiver.

One browser for the whole session; a fresh browser context (cookies, storage) per test. Conduit runs in
the test's event loop (as in tests/sync), so the tests use Playwright's async API. The console is the
API's client, so its behaviour rests on the API's, which the other suites test on both databases; the
browser suite runs on SQLite, the embedded default a newcomer's `make demo` uses.

Chromium: `/usr/bin/chromium` (or `CONDUIT_CHROMIUM`); `.ci/run` installs it. Without one the suite is
skipped, except in CI, where it fails.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from conduit.auth import passwords
from conduit.bootstrap import bootstrap
from conduit.db.migrate import upgrade_async
from conduit.db.models import Member, MemberRole
from tests.apps.receiver import Receiver
from tests.conftest import IN_CI, Tenant, make_settings
from tests.live import LiveConduit, live_conduit
from tests.sync.conftest import Conduit, operator_settings, sides  # noqa: F401 - fixture

PASSWORD = "correct horse battery staple"
# Generous: a loaded 2-core machine runs the job runner, sandboxes and Chromium at once.
TIMEOUT_MS = 20_000


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CONDUIT_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if IN_CI:
            pytest.fail("Chromium is required in CI: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no Chromium binary (apt-get install chromium, or set CONDUIT_CHROMIUM)")
    return path


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture(scope="session")
async def console(
    tmp_path_factory: pytest.TempPathFactory,
    sides: dict[str, Any],  # noqa: F811 - the imported fixture
) -> AsyncIterator[LiveConduit]:
    """Conduit on loopback in this event loop, with every sandbox tracker's OAuth client configured and
    loopback webhook URLs allowed."""
    data = tmp_path_factory.mktemp("console")
    url = f"sqlite+aiosqlite:///{data / 'conduit.db'}"
    await upgrade_async(url)
    settings = operator_settings(make_settings(url, data), sides, allow_private_webhook_urls=True)
    # Pages wait on jobs (an installation, a sync) as a person would: the outbox is polled twice as often.
    async with live_conduit(settings, poll_interval=0.1) as served:
        yield served


@dataclass
class Org:
    """An organization made as `conduit bootstrap` does, with an owner and a plain member who have
    passwords."""

    console: LiveConduit
    tenant: Tenant
    owner: str
    member: str

    @property
    def conduit(self) -> Conduit:
        return Conduit(self.console.runtime, self.console.url, self.tenant)

    async def ingest(self, exc_type: str, value: str) -> None:
        """An error sent as an SDK sends it: a gzipped envelope to the ingest endpoint."""
        event = {
            "event_id": uuid.uuid4().hex,
            "timestamp": time.time(),
            "platform": "python",
            "level": "error",
            "environment": "test",
            "exception": {
                "values": [
                    {
                        "type": exc_type,
                        "value": value,
                        "stacktrace": {
                            "frames": [
                                {
                                    "filename": "lib/http.py",
                                    "function": "dispatch",
                                    "lineno": 7,
                                    "in_app": False,
                                },
                                {
                                    "filename": "shop/cart.py",
                                    "function": "checkout",
                                    "lineno": 42,
                                    "in_app": True,
                                },
                            ]
                        },
                    }
                ]
            },
        }
        body = json.dumps(event).encode()
        header = json.dumps({"event_id": event["event_id"]}).encode()
        item = json.dumps({"type": "event", "length": len(body)}).encode()
        key = self.tenant.public_key
        async with httpx.AsyncClient(base_url=self.console.url, timeout=10) as client:
            reply = await client.post(
                f"/api/{self.tenant.project_id}/envelope/",
                content=gzip.compress(b"\n".join([header, item, body])),
                headers={
                    "Content-Encoding": "gzip",
                    "Content-Type": "application/x-sentry-envelope",
                    "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_client=test/1.0, sentry_key={key}",
                },
            )
        assert reply.status_code == 200, reply.text


@pytest.fixture
async def org(console: LiveConduit) -> Org:
    suffix = secrets.token_hex(4)
    hashed = await passwords.hash_async(PASSWORD)
    async with console.runtime.sessions() as session:
        made = await bootstrap(session, f"Org {suffix}", "shop", console.url)
        owner, member = f"owner-{suffix}@example.com", f"member-{suffix}@example.com"
        session.add_all(
            [
                Member(
                    organization_id=made.organization_id,
                    email=owner,
                    name="Olga Owner",
                    role=MemberRole.OWNER,
                    password_hash=hashed,
                ),
                Member(
                    organization_id=made.organization_id,
                    email=member,
                    name="Max Member",
                    role=MemberRole.MEMBER,
                    password_hash=hashed,
                ),
            ]
        )
        await session.commit()
    tenant = Tenant(made.organization_id, made.project_id, made.token, made.dsn)
    return Org(console, tenant, owner, member)


@pytest.fixture
async def context(browser: Browser, console: LiveConduit) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=console.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/")
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/issues**")
    await page.get_by_role("heading", name="Issues").wait_for()
