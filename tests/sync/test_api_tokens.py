"""Trackers most teams connect with a token they paste (Shortcut): `connectTracker` checks it with one
call, keeps it encrypted, and refuses a bad or refused token with nothing kept; OAuth and token
providers each refuse the other's mutation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from conduit.connectors.registry import TRACKERS
from conduit.db.models import Installation, InstallationStatus
from conduit.ids import decode_as
from tests.connectors.drivers import installs_over_oauth
from tests.sync.conftest import START, Conduit, Side

# Trackers connected with a token the tracker issued (an in-house tracker's secret is not sent: it signs).
TOKEN_KEYS = [t.key for t in TRACKERS if t.provider.auth_mode == "api_token"]
OAUTH_KEYS = [t.key for t in TRACKERS if installs_over_oauth(t.key)]

CONNECT = """
mutation($p: String!, $t: String!, $b: String, $id: ID) {
  connectTracker(provider: $p, apiToken: $t, baseUrl: $b, installationId: $id) {
    __typename
    ... on ConnectTrackerPayload { webhookUrl webhookSecret installation { id status account { name } } }
    ... on ValidationError { message field }
    ... on ForbiddenError { requiredScope }
    ... on NotFoundError { message }
  }
}"""
TOKEN = """
mutation { createApiToken(input: {name: "reader", scopes: ["installation:read"]}) {
  ... on CreateApiTokenPayload { value } } }"""


@pytest.fixture(params=TOKEN_KEYS)
def token_side(request: pytest.FixtureRequest, sides: dict[str, Side]) -> Side:
    return sides[request.param]


async def connect(conduit: Conduit, side: Side, token: str, **extra: Any) -> dict[str, Any]:
    out = await conduit.graphql(CONNECT, p=side.key, t=token, b=side.url, **extra)
    return dict(out["connectTracker"])


async def installations(conduit: Conduit) -> list[Installation]:
    async with conduit.runtime.sessions() as session:
        rows = await session.execute(
            select(Installation).where(Installation.organization_id == conduit.tenant.organization_id)
        )
        return list(rows.scalars())


async def test_a_pasted_token_is_checked_kept_encrypted_and_replaceable(
    conduit: Conduit, token_side: Side
) -> None:
    side = token_side
    providers = (await conduit.graphql("{ providers { key authMode } }"))["providers"]
    assert {p["key"]: p["authMode"] for p in providers}[side.key] == "API_TOKEN"

    token = await side.api_token()
    made = await connect(conduit, side, token)
    assert made["__typename"] == "ConnectTrackerPayload", made
    assert made["installation"]["status"] == "ACTIVE" and made["installation"]["account"]["name"]
    assert made["webhookSecret"] and made["webhookUrl"].startswith(conduit.url)
    pk = decode_as(made["installation"]["id"], "Installation")
    row = await conduit.installation(pk)
    assert row.access_token_enc is not None and token not in row.access_token_enc
    assert conduit.runtime.secrets.decrypt(row.access_token_enc) == token

    # Replaced on the same installation: a refused token leaves the working one in place.
    refused = await connect(conduit, side, "not-a-token-" + "x" * 20, id=made["installation"]["id"])
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "apiToken"), refused
    row = await conduit.installation(pk)
    assert row.access_token_enc is not None
    assert conduit.runtime.secrets.decrypt(row.access_token_enc) == token
    fresh = await side.api_token()
    again = await connect(conduit, side, fresh, id=made["installation"]["id"])
    assert again["__typename"] == "ConnectTrackerPayload" and again["webhookSecret"] is None, again
    row = await conduit.installation(pk)
    assert row.access_token_enc is not None
    assert conduit.runtime.secrets.decrypt(row.access_token_enc) == fresh
    assert len(await installations(conduit)) == 1


async def test_bad_and_refused_tokens_keep_nothing(conduit: Conduit, token_side: Side) -> None:
    side = token_side
    for bad, says in (
        ("", "empty"),
        ("   ", "empty"),
        ("two words", "spaces"),
        ("tab\there", "spaces"),
        ("bell\x07char", "control"),
        ("x" * 1001, "1000"),
    ):
        out = await connect(conduit, side, bad)
        assert (out["__typename"], out["field"]) == ("ValidationError", "apiToken"), (bad, out)
        assert says in out["message"], out
    # Well formed, but the tracker does not take it: its own words, one line, and no installation.
    out = await connect(conduit, side, "a-token-the-tracker-never-issued")
    assert (out["__typename"], out["field"]) == ("ValidationError", "apiToken"), out
    assert "refused the token" in out["message"] and "HTTP 401" in out["message"]
    assert await installations(conduit) == []
    # Revoked in the tracker before it is pasted: refused the same way.
    token = await side.api_token()
    await side.control("DELETE", f"/api-tokens/{token}")
    assert (await connect(conduit, side, token))["field"] == "apiToken"
    assert await installations(conduit) == []
    # Another organization's installation, or none, cannot be reconnected through this one.
    missing = await connect(conduit, side, await side.api_token(), id="SW5zdGFsbGF0aW9uOjk5OTk5OTk5")
    assert missing["__typename"] == "NotFoundError"
    # A token without installation:write may not connect anything.
    reader = (await conduit.graphql(TOKEN))["createApiToken"]["value"]
    denied = (await conduit.graphql(CONNECT, token=reader, p=side.key, t=await side.api_token(), b=side.url))[
        "connectTracker"
    ]
    assert denied == {"__typename": "ForbiddenError", "requiredScope": "installation:write"}
    assert await installations(conduit) == []


async def test_each_kind_of_provider_refuses_the_others_mutation(
    conduit: Conduit, sides: dict[str, Side]
) -> None:
    for key in TOKEN_KEYS:
        started = (await conduit.graphql(START, p=key, b=sides[key].url))["startInstallation"]
        assert started["__typename"] == "ValidationError" and "connectTracker" in started["message"], started
    for key in OAUTH_KEYS:
        out = (await conduit.graphql(CONNECT, p=key, t="whatever-token", b=sides[key].url))["connectTracker"]
        assert (out["__typename"], out["field"]) == ("ValidationError", "provider"), out
        assert "startInstallation" in out["message"]
    assert all(r.status is not InstallationStatus.ACTIVE for r in await installations(conduit))
    assert await installations(conduit) == []
