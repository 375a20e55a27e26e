"""Jira sandbox OAuth: code flow, offline_access, rotating refresh tokens with a reuse window, discovery."""

from __future__ import annotations

from typing import Any

from tests.connectors.jira.conftest import jira_token
from tests.connectors.sandbox.serving import Served, authorize_code, bearer

CLIENT = "sandbox-jira-client"


def refresh(jira: Served, value: str) -> Any:
    secret = jira.sandbox.oauth.clients[CLIENT].client_secret
    return jira.http.post(
        "/rest/oauth2/latest/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT,
            "client_secret": secret,
            "refresh_token": value,
        },
    )


def test_code_flow_gives_an_hour_long_token(jira: Served) -> None:
    token = jira_token(jira)
    assert token["expires_in"] == 3600 and token["token_type"] == "Bearer" and token["refresh_token"]
    me = jira.http.get("/rest/api/3/myself", headers=bearer(token["access_token"]))
    assert me.status_code == 200 and me.json()["emailAddress"] == "alice@example.com"


def test_no_refresh_token_without_offline_access(jira: Served) -> None:
    token = jira_token(jira, scope="read:jira-work write:jira-work")
    assert "refresh_token" not in token


def test_authorize_requires_response_type_code(jira: Served) -> None:
    response = jira.http.get(
        "/rest/oauth2/latest/authorize", params={"client_id": CLIENT, "redirect_uri": "http://a"}
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_response_type"


def test_refresh_rotates_and_reuse_inside_the_window_is_forgiven(jira: Served) -> None:
    token = jira_token(jira)
    first = refresh(jira, token["refresh_token"]).json()
    assert first["refresh_token"] != token["refresh_token"]
    # A second process racing with the same old token inside the window gets the newest refresh token.
    reused = refresh(jira, token["refresh_token"])
    assert reused.status_code == 200 and reused.json()["refresh_token"] == first["refresh_token"]
    assert (
        jira.http.get("/rest/api/3/myself", headers=bearer(reused.json()["access_token"])).status_code == 200
    )


def test_reuse_after_the_window_revokes_the_whole_family(jira: Served) -> None:
    token = jira_token(jira)
    first = refresh(jira, token["refresh_token"]).json()
    jira.control("POST", "/clock", json={"advance": 11})
    late = refresh(jira, token["refresh_token"])
    assert late.status_code == 403 and late.json()["error"] == "invalid_grant"
    assert refresh(jira, first["refresh_token"]).status_code == 403
    assert jira.http.get("/rest/api/3/myself", headers=bearer(first["access_token"])).status_code == 401


def test_access_token_expires_after_an_hour(jira: Served) -> None:
    token = jira_token(jira)
    jira.control("POST", "/clock", json={"advance": 3601})
    expired = jira.http.get("/rest/api/3/myself", headers=bearer(token["access_token"]))
    assert expired.status_code == 401 and expired.json()["errorMessages"]
    renewed = refresh(jira, token["refresh_token"]).json()
    assert jira.http.get("/rest/api/3/myself", headers=bearer(renewed["access_token"])).status_code == 200


def test_pkce_and_json_token_requests(jira: Served) -> None:
    import base64
    import hashlib

    verifier = "x" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = authorize_code(
        jira.http,
        "/rest/oauth2/latest/authorize",
        client_id=CLIENT,
        redirect_uri="http://a/cb",
        response_type="code",
        code_challenge=challenge,
        code_challenge_method="S256",
    )["code"]
    secret = jira.sandbox.oauth.clients[CLIENT].client_secret
    body = {"grant_type": "authorization_code", "client_id": CLIENT, "client_secret": secret, "code": code}
    wrong = jira.http.post("/rest/oauth2/latest/token", json=body | {"code_verifier": "y" * 64})
    assert wrong.status_code == 403 and wrong.json()["error"] == "invalid_grant"
    code = authorize_code(
        jira.http,
        "/rest/oauth2/latest/authorize",
        client_id=CLIENT,
        redirect_uri="http://a/cb",
        response_type="code",
        code_challenge=challenge,
        code_challenge_method="S256",
    )["code"]
    right = jira.http.post("/rest/oauth2/latest/token", json=body | {"code": code, "code_verifier": verifier})
    assert right.status_code == 200 and right.json()["access_token"]


def test_bad_client_is_401_invalid_client(jira: Served) -> None:
    response = jira.http.post(
        "/rest/oauth2/latest/token",
        data={"grant_type": "refresh_token", "client_id": CLIENT, "client_secret": "x"},
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_accessible_resources_and_the_cloud_gateway_path(jira: Served) -> None:
    token = jira_token(jira)
    sites = jira.http.get("/oauth/token/accessible-resources", headers=bearer(token["access_token"])).json()
    assert sites[0]["url"] == jira.url and "offline_access" in sites[0]["scopes"]
    cloud = f"/ex/jira/{sites[0]['id']}/rest/api/3/myself"
    assert jira.http.get(cloud, headers=bearer(token["access_token"])).status_code == 200
    assert (
        jira.http.get("/ex/jira/other/rest/api/3/myself", headers=bearer(token["access_token"])).status_code
        == 404
    )


def test_revoke_fault_gives_401_and_invalid_grant(jira: Served) -> None:
    token = jira_token(jira)
    jira.control("POST", "/faults", json={"kind": "revoke"})
    assert jira.http.get("/rest/api/3/myself", headers=bearer(token["access_token"])).status_code == 401
    failed = refresh(jira, token["refresh_token"])
    assert failed.status_code == 403 and failed.json()["error"] == "invalid_grant"
