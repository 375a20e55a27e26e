"""The Linear sandbox's OAuth: comma-separated scopes, PKCE, day-long tokens, rotating refresh tokens
and revocation."""

from __future__ import annotations

from conduit.connectors.linear import graphql
from tests.connectors.linear.conftest import CLIENT_ID, gql, linear_token
from tests.connectors.sandbox.serving import Served, authorize_code


def _refresh(served: Served, refresh_token: str) -> tuple[int, dict[str, str]]:
    secret = served.sandbox.oauth.clients[CLIENT_ID].client_secret
    reply = served.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": secret,
        },
    )
    return reply.status_code, reply.json()


def test_code_exchange_gives_a_day_long_token_and_a_refresh_token(linear: Served) -> None:
    token = linear_token(linear, scope="write,issues:create")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86399
    assert token["refresh_token"] and token["access_token"].startswith("lin_oauth_")
    # `read` is always granted with whatever was asked for.
    assert token["scope"].split() == ["read", "write", "issues:create"]
    viewer = gql(linear, token["access_token"], graphql.VIEWER).json()["data"]["viewer"]
    assert viewer["email"] == "alice@example.com"
    assert viewer["organization"]["urlKey"] == "sandbox"


def test_pkce_verifier_must_match(linear: Served) -> None:
    secret = linear.sandbox.oauth.clients[CLIENT_ID].client_secret
    code = authorize_code(
        linear.http,
        "/oauth/authorize",
        client_id=CLIENT_ID,
        redirect_uri="http://app.test/cb",
        response_type="code",
        scope="read",
        code_challenge="x" * 43,
        code_challenge_method="S256",
    )["code"]
    reply = linear.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "code_verifier": "wrong",
        },
    )
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_grant"
    assert "code_verifier" in reply.json()["error_description"]


def test_refresh_tokens_rotate_and_a_used_one_is_refused(linear: Served) -> None:
    first = linear_token(linear)
    status, second = _refresh(linear, first["refresh_token"])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    status, again = _refresh(linear, first["refresh_token"])
    assert status == 400 and again["error"] == "invalid_grant"
    assert gql(linear, second["access_token"], graphql.VIEWER).status_code == 200


def test_revoke_ends_the_grant(linear: Served) -> None:
    token = linear_token(linear)
    reply = linear.http.post("/oauth/revoke", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert reply.status_code == 200
    assert gql(linear, token["access_token"], graphql.VIEWER).status_code == 401
    status, refused = _refresh(linear, token["refresh_token"])
    assert status == 400 and refused["error"] == "invalid_grant"


def test_authorize_refuses_an_unknown_actor(linear: Served) -> None:
    reply = linear.http.get(
        "/oauth/authorize",
        params={"client_id": CLIENT_ID, "response_type": "code", "scope": "read", "actor": "robot"},
    )
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_request"
