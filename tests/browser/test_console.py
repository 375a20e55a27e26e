"""The console end to end, in Chromium: every click goes through the public GraphQL API."""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

from playwright.async_api import Page, expect

from conduit.ids import decode_as, encode
from tests.apps.receiver import Receiver
from tests.sync.conftest import install

from .conftest import PASSWORD, Org, sign_in


async def test_an_ingested_error_appears_live_and_its_ticket_closed_in_the_tracker_resolves_it(
    page: Page, org: Org, sides: dict[str, Any]
) -> None:
    github = sides["github"]
    await install(org.conduit, github)
    await sign_in(page, org.owner)
    # Set on this document: still there at the end means the page was never reloaded.
    await page.evaluate("window.__sameDocument = true")
    await page.locator("html[data-live=on]").wait_for(state="attached")

    value = f"cart {secrets.token_hex(4)} is empty"
    await org.ingest("ValueError", value)
    row = page.locator("tr[data-issue]", has_text=value)
    await expect(row).to_be_visible()
    await row.get_by_role("link").click()

    await expect(page.locator("#issue-status")).to_have_attribute("data-status", "UNRESOLVED")
    await expect(page.locator(".frame.in-app", has_text="checkout")).to_be_visible()
    await page.get_by_label("Repository or project", exact=True).fill(github.scope)
    await page.get_by_role("button", name="Create ticket").click()
    ticket = page.locator("tr[data-link]")
    await expect(ticket).to_have_count(1)
    key = (await ticket.get_by_role("link").first.inner_text()).strip()
    assert "#" in key, key

    await github.act(key, "close")
    await expect(page.locator("#issue-status")).to_have_attribute("data-status", "RESOLVED")
    await expect(page.locator("tr[data-link] [data-ticket-status]")).to_contain_text("closed")
    assert await page.evaluate("window.__sameDocument") is True


async def test_an_admin_connects_a_tracker_through_its_oauth_consent(
    page: Page, org: Org, sides: dict[str, Any]
) -> None:
    github = sides["github"]
    await sign_in(page, org.owner)
    await page.get_by_role("link", name="Installations").click()
    await page.get_by_label("Tracker", exact=True).select_option("github")
    await page.get_by_label("Server URL (optional)", exact=True).fill(github.url)
    async with page.expect_popup() as opened:
        await page.get_by_role("button", name="Connect").click()
    consent = await opened.value
    # The sandbox approves at once and sends the browser back to Conduit's callback.
    await consent.wait_for_url("**/oauth/github/callback**")
    await expect(consent.get_by_role("heading")).to_contain_text("Connecting GitHub")
    await expect(page.get_by_text("Connected to")).to_be_visible()
    await expect(page.locator("tr[data-installation] [data-status]")).to_have_attribute(
        "data-status", "ACTIVE"
    )

    await page.locator("tr[data-installation]").get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Health")).to_be_visible()
    await page.get_by_label("Statuses that mean resolved", exact=True).fill("closed")
    await page.get_by_label("Comments in Conduit go to the ticket", exact=True).uncheck()
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_text("Settings saved.")).to_be_visible()
    await expect(page.get_by_label("Statuses that mean resolved", exact=True)).to_have_value("closed")
    await expect(page.get_by_label("Comments in Conduit go to the ticket", exact=True)).not_to_be_checked()


async def test_an_integrator_creates_an_app_sends_a_test_event_and_redelivers_it(
    page: Page, org: Org, receiver: Receiver
) -> None:
    endpoint = f"console-{secrets.token_hex(4)}"
    await sign_in(page, org.owner)
    await page.get_by_role("link", name="Apps", exact=True).click()
    await page.get_by_label("Name", exact=True).fill("Shipping bot")
    await page.get_by_label("Webhook URL", exact=True).fill(receiver.url(endpoint))
    await page.get_by_label("issue.created", exact=True).check()
    await page.get_by_role("button", name="Create app").click()
    client_secret = page.locator('[data-secret="Client secret"] input')
    await expect(client_secret).to_be_visible()
    assert (await client_secret.input_value()).strip()
    webhook_secret = await page.locator('[data-secret="Webhook secret"] input').input_value()
    assert webhook_secret.startswith("whsec_")
    # The receiver checks every delivery's signature with the secret the page showed.
    receiver.endpoints[endpoint].secret = webhook_secret

    await page.get_by_role("link", name="Open Shipping bot").click()
    await page.get_by_label("Event type", exact=True).select_option("issue.created")
    await page.get_by_role("button", name="Send test event").click()
    await page.get_by_role("link", name="See the delivery").click()
    first = page.locator('tr[data-attempt="1"]')
    await expect(first.locator("[data-status-code]")).to_have_text("200")
    await first.get_by_text("Headers").click()
    await expect(first.locator("details pre")).to_contain_text("webhook-id")
    await expect(first).to_contain_text("ok")

    await page.get_by_role("button", name="Redeliver").click()
    await expect(page.locator('tr[data-attempt="2"] [data-status-code]')).to_have_text("200")
    await expect(page.locator('tr[data-attempt="2"]')).to_contain_text("manual")
    hits = receiver.of(endpoint)
    assert len(hits) == 2 and hits[0].msg_id == hits[1].msg_id
    assert all(hit.verified for hit in hits)


GRAPHQL_FROM_PAGE = """async ([query, csrf]) => {
  const session = await (await fetch("/console/session")).json();
  const reply = await fetch("/graphql", {method: "POST", headers: {"Content-Type": "application/json",
    "X-Conduit-CSRF": csrf === null ? session.csrfToken : csrf}, body: JSON.stringify({query})});
  return {status: reply.status, body: await reply.json()};
}"""


async def test_a_member_without_admin_rights_reaches_neither_admin_pages_nor_their_mutations(
    page: Page, org: Org
) -> None:
    await sign_in(page, org.member)
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Issues")).to_be_visible()
    for admin_page in ("Installations", "Members", "API tokens", "Jobs", "Apps", "Rules"):
        await expect(nav.get_by_role("link", name=admin_page, exact=True)).to_have_count(0)

    for path in ("/installations", "/members", "/tokens", "/jobs", "/apps"):
        await page.goto(path)
        await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()

    for mutation in (
        'createApiToken(input: {name: "mine", scopes: ["admin"]}) { __typename }',
        'startInstallation(provider: "github") { __typename }',
        'addMember(input: {email: "x@example.com"}) { __typename }',
    ):
        reply = await page.evaluate(GRAPHQL_FROM_PAGE, [f"mutation {{ {mutation} }}", None])
        assert reply["status"] == 200, reply
        [result] = reply["body"]["data"].values()
        assert result["__typename"] == "ForbiddenError", reply


async def test_a_forged_cross_site_post_is_refused(page: Page, org: Org) -> None:
    await org.ingest("KeyError", "'sku'")
    data = await org.conduit.graphql(
        "query($p: ID!) { project(id: $p) { issues(first: 1) { nodes { id } } } }",
        p=encode("Project", org.tenant.project_id),
    )
    issue = data["project"]["issues"]["nodes"][0]["id"]
    await sign_in(page, org.owner)
    mutation = json.dumps(
        {"query": f'mutation {{ updateIssue(input: {{id: "{issue}", status: RESOLVED}}) {{ __typename }} }}'}
    )

    # Another origin on the same host: the same site, so the browser sends the SameSite=Lax cookie along.
    console_port = int(org.console.url.rsplit(":", 1)[1])
    attacker = f"http://127.0.0.1:{console_port + 1 if console_port < 65535 else console_port - 1}"
    # The classic JSON-over-text/plain forgery: the form's `name=value` body reads as the mutation's JSON.
    name = html.escape(mutation[:-1] + ', "x": "', quote=True)
    forged = f"""<!doctype html><title>free prizes</title>
<form id="json" method="POST" action="{org.console.url}/graphql" enctype="text/plain">
<input name="{name}" value='"}}'></form>
<form id="signout" method="POST" action="{org.console.url}/console/sign-out"></form>"""

    async def serve(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html", body=forged)

    await page.context.route(f"{attacker}/**", serve)
    await page.goto(f"{attacker}/prize")
    async with page.expect_response(f"{org.console.url}/graphql") as posted:
        await page.evaluate("document.getElementById('json').submit()")
    assert (await posted.value).status in (401, 403, 415)
    await page.wait_for_url(f"{org.console.url}/graphql")

    await page.goto(f"{attacker}/prize")
    blocked = await page.evaluate(
        """async ([url, body]) => {
          try {
            await fetch(url, {method: "POST", credentials: "include", headers: {"Content-Type": "application/json"}, body});
            return "sent";
          } catch (e) { return "blocked"; }
        }""",
        [f"{org.console.url}/graphql", mutation],
    )
    assert blocked == "blocked"
    async with page.expect_response(f"{org.console.url}/console/sign-out") as signed_out:
        await page.evaluate("document.getElementById('signout').submit()")
    assert (await signed_out.value).status in (401, 403)
    await page.wait_for_url(f"{org.console.url}/console/sign-out")

    # Still signed in, and the issue untouched; a same-origin request without the CSRF token is refused.
    await page.goto("/issues")
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    no_token = await page.evaluate(GRAPHQL_FROM_PAGE, [json.loads(mutation)["query"], ""])
    assert no_token["status"] == 403, no_token
    assert await org.conduit.issue_status(decode_as(issue, "Issue")) == "unresolved"


async def test_sign_in_by_keyboard_a_wrong_password_and_sign_out(page: Page, org: Org) -> None:
    await page.goto("/issues?status=RESOLVED")
    await page.wait_for_url("**/sign-in?next=**")
    # The email field has the focus; the rest is Tab and Enter.
    await page.keyboard.type(org.owner)
    await page.keyboard.press("Tab")
    await page.keyboard.type("not the password at all")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")

    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.keyboard.press("Enter")
    # Back where the visit began, filters included.
    await page.wait_for_url("**/issues?status=RESOLVED")
    await expect(page.get_by_label("Status", exact=True)).to_have_value("RESOLVED")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to Conduit")).to_be_visible()
    await page.goto("/issues")
    await page.wait_for_url("**/sign-in**")
    session = await page.evaluate("fetch('/console/session').then((r) => r.status)")
    assert session == 401


async def test_links_from_trackers_cannot_run_script(page: Page, org: Org) -> None:
    await sign_in(page, org.owner)
    hrefs = await page.evaluate(
        """async () => {
          const { h } = await import(document.querySelector('script[type=module]').src.replace('app.js', 'dom.js'));
          return ['javascript:alert(1)', ' JavaScript:alert(1)', 'data:text/html,x', 'https://t.example/1', '/issues']
            .map((href) => h('a', { href }).getAttribute('href'));
        }"""
    )
    assert hrefs == ["#", "#", "#", "https://t.example/1", "/issues"]


async def test_uninstalling_asks_first(page: Page, org: Org, sides: dict[str, Any]) -> None:
    installed = await install(org.conduit, sides["github"])
    await sign_in(page, org.owner)
    await page.goto(f"/installations/{installed.gid}")
    await expect(page.get_by_role("heading", name="Recent calls to the tracker")).to_be_visible()
    await expect(page.locator("tr[data-interaction]").first).to_be_visible()

    await page.get_by_role("button", name="Uninstall…").click()
    dialog = page.get_by_role("dialog", name="Uninstall this tracker?")
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    assert (await org.conduit.installation(installed.id)).status.value == "active"

    await page.get_by_role("button", name="Uninstall…").click()
    await dialog.get_by_role("button", name="Uninstall").click()
    await page.wait_for_url("**/installations")
    await expect(page.locator("tr[data-installation]")).to_have_count(0)


async def test_a_rule_is_previewed_saved_and_edited(page: Page, org: Org) -> None:
    await org.ingest("TimeoutError", "the payments API did not answer")
    await sign_in(page, org.owner)
    await page.get_by_role("link", name="Rules", exact=True).click()
    await page.get_by_label("Name", exact=True).fill("New errors")
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_role("heading", name="Preview: 1 of 1 issues")).to_be_visible()
    await expect(page.get_by_role("table", name="Preview")).to_contain_text("the payments API did not answer")
    await page.get_by_role("button", name="Save rule").click()
    row = page.locator("tr[data-rule]")
    await expect(row).to_contain_text("New errors")

    await row.get_by_role("button", name="Edit").click()
    await expect(page.get_by_label("Name", exact=True)).to_be_focused()
    await page.get_by_label("Name", exact=True).fill("New errors, renamed")
    await page.get_by_role("button", name="Save changes").click()
    await expect(row).to_contain_text("New errors, renamed")
    await expect(row).to_have_count(1)
