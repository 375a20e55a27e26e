"""The GitLab sandbox's OAuth: PKCE code flow, 2 h tokens with `created_at`, rotation that ends the old
access and refresh token, revocation, and a version that leaves `expires_in` out."""

from __future__ import annotations

from tests.connectors.gitlab.conftest import CLIENT, REDIRECT, VERIFIER, gitlab_token
from tests.connectors.sandbox.serving import Served, authorize_code, bearer

SECRET = "sandbox-gitlab-app-secret"


def _refresh(gitlab: Served, refresh_token: str) -> tuple[int, dict[str, str]]:
    reply = gitlab.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT,
            "client_secret": SECRET,
        },
    )
    return reply.status_code, reply.json()


def test_code_flow_answers_as_gitlab(gitlab: Served) -> None:
    token = gitlab_token(gitlab)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 7200 and token["scope"] == "api"
    assert isinstance(token["created_at"], int) and token["refresh_token"]
    assert gitlab.http.get("/api/v4/user", headers=bearer(token["access_token"])).status_code == 200


def test_the_code_verifier_is_checked(gitlab: Served) -> None:
    code = authorize_code(
        gitlab.http,
        "/oauth/authorize",
        client_id=CLIENT,
        redirect_uri=REDIRECT,
        response_type="code",
        scope="api",
        code_challenge="x" * 43,
        code_challenge_method="S256",
    )["code"]
    reply = gitlab.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
    )
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_grant"


def test_a_refresh_ends_the_old_access_and_refresh_token(gitlab: Served) -> None:
    first = gitlab_token(gitlab)
    status, second = _refresh(gitlab, first["refresh_token"])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    old = gitlab.http.get("/api/v4/user", headers=bearer(first["access_token"]))
    assert old.status_code == 401 and old.json()["error"] == "invalid_token"
    assert gitlab.http.get("/api/v4/user", headers=bearer(second["access_token"])).status_code == 200
    status, again = _refresh(gitlab, first["refresh_token"])
    assert status == 400 and again["error"] == "invalid_grant"


def test_a_bad_client_is_a_401(gitlab: Served) -> None:
    reply = gitlab.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": CLIENT,
            "client_secret": "no",
        },
    )
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"


def test_revoke_ends_the_grant_and_always_answers_200(gitlab: Served) -> None:
    token = gitlab_token(gitlab)
    form = {"client_id": CLIENT, "client_secret": SECRET, "token": token["access_token"]}
    assert gitlab.http.post("/oauth/revoke", data=form).status_code == 200
    assert gitlab.http.get("/api/v4/user", headers=bearer(token["access_token"])).status_code == 401
    assert gitlab.http.post("/oauth/revoke", data=form | {"token": "unknown"}).status_code == 200
    assert gitlab.http.post("/oauth/revoke", data=form | {"client_secret": "no"}).status_code == 401


def test_a_version_without_expires_in(gitlab: Served) -> None:
    token = gitlab_token(gitlab, client="sandbox-gitlab-legacy")
    assert "expires_in" not in token and token["refresh_token"] and token["created_at"]
