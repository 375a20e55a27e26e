"""The README's console screenshots, made from `conduit demo` in headless Chromium.

    .venv/bin/python docs/screenshots.py        # writes docs/screenshots/*.png

The demo is given a little more than its sample errors, all through the public API as any client would:
GitHub (its sandbox) connected through OAuth, a ticket made from an issue, an app whose endpoint (a
receiver in this process) got a few test events, a rule, a second member. Then each page is captured at
1280 x 800.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from common import Demo, chromium, running_demo, serve

OUT = Path(__file__).resolve().parent / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


async def gql(demo: Demo, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        reply = await client.post(
            f"{demo.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {demo.token}"},
        )
    body: dict[str, Any] = reply.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return dict(body["data"])


async def populate(demo: Demo, receiver_url: str) -> None:
    github = demo.trackers["GitHub"]
    started = (
        await gql(
            demo,
            """mutation($b: String) { startInstallation(provider: "github", baseUrl: $b) {
              ... on StartInstallationPayload { authorizeUrl installation { id } } } }""",
            b=github,
        )
    )["startInstallation"]
    async with httpx.AsyncClient(timeout=30) as browser:
        consent = await browser.get(started["authorizeUrl"])
        location = urlsplit(consent.headers["location"])
        await browser.get(
            f"{demo.url}{location.path}?{location.query}", headers={"Accept": "application/json"}
        )
    installation = started["installation"]["id"]
    for _ in range(100):
        state = await gql(demo, "query($id: ID!) { installation(id: $id) { status } }", id=installation)
        if state["installation"]["status"] == "ACTIVE":
            break
        await asyncio.sleep(0.2)
    data = await gql(
        demo, "{ organization { projects(first: 1) { nodes { id issues(first: 5) { nodes { id } } } } } }"
    )
    project = data["organization"]["projects"]["nodes"][0]
    issue = project["issues"]["nodes"][0]["id"]
    await gql(
        demo,
        """mutation($i: ID!, $n: ID!) { createExternalIssue(issueId: $i, installationId: $n, target: "acme/widgets") {
          __typename } }""",
        i=issue,
        n=installation,
    )
    await gql(
        demo,
        'mutation($i: ID!) { addComment(issueId: $i, body: "Seen after the 1.0 deploy; looking.") { __typename } }',
        i=issue,
    )
    app = (
        await gql(
            demo,
            """mutation($u: String!) { createApp(input: {name: "Shipping bot", kind: INTERNAL, webhookUrl: $u,
              events: ["issue.created", "issue.resolved"], scopes: ["issue:read"]}) {
              ... on CreateAppPayload { app { id } } } }""",
            u=receiver_url,
        )
    )["createApp"]["app"]["id"]
    for kind in ("issue.created", "issue.resolved", "issue.created"):
        await gql(
            demo,
            "mutation($a: ID!, $t: String!) { sendTestEvent(appId: $a, type: $t) { __typename } }",
            a=app,
            t=kind,
        )
    await gql(
        demo,
        """mutation($p: ID!) { createRule(projectId: $p, input: {name: "Page on bursts", trigger: EVENT_RATE,
          threshold: 50, windowSeconds: 600, levels: ["error", "fatal"]}) { __typename } }""",
        p=project["id"],
    )
    await gql(
        demo, 'mutation { addMember(input: {email: "max@example.com", name: "Max Member"}) { __typename } }'
    )


async def shoot(page: Page, path: str, name: str, wait_for: str, full_page: bool = False) -> None:
    await page.goto(path)
    await page.locator(wait_for).first.wait_for()
    await page.wait_for_timeout(400)
    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)
    print(f"  docs/screenshots/{name}.png")


async def main() -> None:
    OUT.mkdir(exist_ok=True)

    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    receiver = Starlette(routes=[Route("/hook", ok, methods=["POST"])])
    with (
        tempfile.TemporaryDirectory() as workdir,
        serve(receiver) as receiver_url,
        running_demo(Path(workdir), CONDUIT_ALLOW_PRIVATE_WEBHOOK_URLS="true") as demo,
    ):
        await populate(demo, f"{receiver_url}/hook")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium(), headless=True)
            anonymous = await browser.new_page(viewport=VIEWPORT, base_url=demo.url)
            await shoot(anonymous, "/", "sign-in", "form")
            context = await browser.new_context(viewport=VIEWPORT, base_url=demo.url)
            page = await context.new_page()
            await page.goto(demo.sign_in_link)
            await shoot(page, "/issues", "issues", "tr[data-issue]")
            await page.locator("tr[data-issue]").first.get_by_role("link").first.click()
            await page.locator("#issue-status").wait_for()
            issue = page.url.split(demo.url, 1)[1]
            await shoot(page, issue, "issue", "tr[data-link]", full_page=True)
            await shoot(page, "/installations", "installations", "tr[data-installation]")
            await page.locator("tr[data-installation] a").first.click()
            await page.locator("[data-charts]").wait_for()
            await shoot(page, page.url.split(demo.url, 1)[1], "installation", "[data-charts]", full_page=True)
            await shoot(page, "/rules", "rules", "tr[data-rule]")
            await shoot(page, "/members", "members", "tr[data-member]")
            await shoot(page, "/jobs?state=", "jobs", "tr[data-job]")
            await shoot(page, "/apps", "apps", "tr[data-app]")
            await page.locator("tr[data-app] a").first.click()
            await page.locator("tr[data-delivery]").first.wait_for()
            await shoot(page, page.url.split(demo.url, 1)[1], "app", "tr[data-delivery]", full_page=True)
            await page.locator("tr[data-delivery] a").first.click()
            await page.locator("tr[data-attempt]").first.wait_for()
            await shoot(page, page.url.split(demo.url, 1)[1], "delivery", "tr[data-attempt]")
            await shoot(page, "/catalog", "catalog", "section.card")
            await shoot(page, "/analytics", "analytics", ".stats")
            await shoot(page, "/graphql", "graphiql", ".graphiql-container")
            await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
