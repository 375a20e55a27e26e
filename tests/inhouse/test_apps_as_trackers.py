"""An app that declares a trackerUrl is a tracker: connected from the app, then an installation like any
other, from a ticket created from a Conduit issue to the ticket closed in the tool. An internal app is a
tracker for its own organization only; a public one for any."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conduit.connectors.inhouse.contract import CONTRACT_PATH
from conduit.ids import decode_as, encode
from tests.conftest import Tenant
from tests.sync.conftest import Conduit, Side, wait_for
from tests.sync.helpers import create_ticket, idle

CREATE_APP = """
mutation($name: String!, $kind: AppKind!, $url: String) {
  createApp(input: {name: $name, kind: $kind, trackerUrl: $url, scopes: ["issue:read"]}) {
    __typename ... on CreateAppPayload { app { id trackerUrl } } ... on ValidationError { message field } ... on UserError { message }
  }
}"""
CONNECT = """
mutation($s: String!, $app: ID, $p: String!) {
  connectTracker(provider: $p, apiToken: $s, app: $app) {
    __typename
    ... on ConnectTrackerPayload { installation { id status provider { key } baseUrl } }
    ... on ValidationError { message field }
    ... on NotFoundError { message }
  }
}"""


@pytest.fixture
def side(sides: dict[str, Side]) -> Side:
    return sides["inhouse"]


async def make_app(conduit: Conduit, kind: str, url: str | None, token: str | None = None) -> dict[str, Any]:
    made = await conduit.graphql(CREATE_APP, token=token, name=f"Ops board {kind}", kind=kind, url=url)
    return dict(made["createApp"])


async def connect(
    conduit: Conduit, app: str | None, secret: str, token: str | None = None, p: str = "inhouse"
) -> dict[str, Any]:
    return dict((await conduit.graphql(CONNECT, token=token, s=secret, app=app, p=p))["connectTracker"])


async def test_from_an_issue_to_a_ticket_closed_in_the_tool(conduit: Conduit, side: Side) -> None:
    app = await make_app(conduit, "INTERNAL", side.url + "/")
    assert app["__typename"] == "CreateAppPayload", app
    assert app["app"]["trackerUrl"] == side.url
    made = await connect(conduit, app["app"]["id"], await side.api_token())
    assert made["__typename"] == "ConnectTrackerPayload", made
    assert made["installation"]["status"] == "ACTIVE" and made["installation"]["baseUrl"] == side.url
    gid = made["installation"]["id"]

    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, gid, issue_id, side.scope)
    assert ticket["key"].startswith(side.scope + "-") and ticket["url"].startswith(side.url)
    # Conduit registers its hook with the service in a job of its own: only then are changes sent to it.
    await wait_for(lambda: idle(conduit), "the hook registration to finish")
    await side.act(ticket["key"], "close")

    async def resolved() -> bool:
        return await conduit.issue_status(issue_id) == "resolved"

    await wait_for(resolved, "the issue to be resolved from the tool")
    assert decode_as(gid, "Installation")


async def test_an_internal_app_is_a_tracker_for_its_own_organization_only(
    conduit: Conduit,
    side: Side,
    tenant2: Tenant,
) -> None:
    internal = (await make_app(conduit, "INTERNAL", side.url))["app"]["id"]
    public = (await make_app(conduit, "PUBLIC", side.url))["app"]["id"]
    secret = await side.api_token()
    assert (await connect(conduit, internal, secret, token=tenant2.token))["__typename"] == "NotFoundError"
    other = await connect(conduit, public, secret, token=tenant2.token)
    assert other["__typename"] == "ConnectTrackerPayload" and other["installation"]["status"] == "ACTIVE", (
        other
    )
    # No app by that id at all, or an id of another kind: the same answer.
    for missing in (encode("App", 10**9), encode("Installation", 1), "not-an-id"):
        assert (await connect(conduit, missing, secret))["__typename"] == "NotFoundError"


async def test_bad_apps_and_secrets_are_refused_with_the_field(conduit: Conduit, side: Side) -> None:
    for url, says in (
        ("ftp://tracker.example.com", "trackerUrl"),
        ("x" * 600, "trackerUrl"),
        ("http://", "trackerUrl"),
    ):
        refused = await make_app(conduit, "INTERNAL", url)
        assert (refused["__typename"], refused["field"]) == ("ValidationError", says), refused
    plain = (await make_app(conduit, "INTERNAL", None))["app"]["id"]
    not_tracker = await connect(conduit, plain, await side.api_token())
    assert (not_tracker["__typename"], not_tracker["field"]) == ("ValidationError", "app")
    tracker = (await make_app(conduit, "INTERNAL", side.url))["app"]["id"]
    github = await connect(conduit, tracker, await side.api_token(), p="github")
    assert (github["__typename"], github["field"]) == ("ValidationError", "app")
    # A secret the service does not hold: its own refusal, and nothing kept.
    wrong = await connect(conduit, tracker, "whsec_" + "A" * 43 + "=")
    assert (wrong["__typename"], wrong["field"]) == ("ValidationError", "apiToken")
    assert "HTTP 401" in wrong["message"]
    malformed = await connect(conduit, tracker, "not-a-whsec-secret")
    assert "Standard Webhooks secret" in malformed["message"]
    # Neither an app nor a base URL: where would it be?
    nowhere = await connect(conduit, None, await side.api_token())
    assert (nowhere["__typename"], nowhere["field"]) == ("ValidationError", "app")


async def test_the_contract_is_served(conduit: Conduit) -> None:
    async with httpx.AsyncClient() as client:
        reply = await client.get(conduit.url + CONTRACT_PATH)
    assert reply.status_code == 200
    document = reply.json()
    assert document["openapi"] == "3.1.0" and document["info"]["version"] == "1"
    assert {"/describe", "/health", "/tickets", "/people"} <= set(document["paths"])
