"""GitHub sandbox OAuth: code flow, reply formats, PKCE, GitHub App refresh rotation, revocation."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs

from tests.connectors.github.conftest import gh_auth, github_token
from tests.connectors.sandbox.serving import Served, authorize_code

APP = "sandbox-github-app"
APP_SECRET = "sandbox-github-app-secret"
OAUTH_APP = "sandbox-github-oauth-app"


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_authorize_redirects_with_code_and_state(github: Served) -> None:
    reply = authorize_code(
        github.http, "/login/oauth/authorize", client_id=APP, redirect_uri="http://app.test/cb", state="xyz"
    )
    assert reply["state"] == "xyz" and len(reply["code"]) == 20


def test_token_reply_is_form_encoded_unless_json_is_accepted(github: Served) -> None:
    code = authorize_code(
        github.http, "/login/oauth/authorize", client_id=OAUTH_APP, redirect_uri="http://a/cb"
    )
    secret = "sandbox-github-oauth-app-secret"
    form = github.http.post(
        "/login/oauth/access_token",
        data={"client_id": OAUTH_APP, "client_secret": secret, "code": code["code"]},
    )
    assert form.headers["content-type"].startswith("application/x-www-form-urlencoded")
    parsed = parse_qs(form.text)
    assert parsed["access_token"][0].startswith("gho_")
    assert "expires_in" not in parsed and "refresh_token" not in parsed
    user = github.http.get("/api/v3/user", headers=gh_auth(parsed["access_token"][0]))
    assert user.status_code == 200 and user.json()["login"] == "octocat"


def test_github_app_tokens_expire_and_carry_a_refresh_token(github: Served) -> None:
    token = github_token(github)
    assert token["access_token"].startswith("ghu_") and token["expires_in"] == 28800
    assert token["refresh_token"].startswith("ghr_")


def test_code_is_single_use(github: Served) -> None:
    code = authorize_code(github.http, "/login/oauth/authorize", client_id=APP, redirect_uri="http://a/cb")[
        "code"
    ]
    body = {"client_id": APP, "client_secret": APP_SECRET, "code": code}
    first = github.http.post("/login/oauth/access_token", data=body, headers={"Accept": "application/json"})
    second = github.http.post("/login/oauth/access_token", data=body, headers={"Accept": "application/json"})
    assert "access_token" in first.json()
    # GitHub reports token errors with HTTP 200 and an `error` field.
    assert second.status_code == 200 and second.json()["error"] == "bad_verification_code"


def test_wrong_client_secret_is_refused(github: Served) -> None:
    code = authorize_code(github.http, "/login/oauth/authorize", client_id=APP, redirect_uri="http://a/cb")[
        "code"
    ]
    reply = github.http.post(
        "/login/oauth/access_token",
        data={"client_id": APP, "client_secret": "nope", "code": code},
        headers={"Accept": "application/json"},
    ).json()
    assert reply["error"] == "incorrect_client_credentials"


def test_pkce_s256_is_verified_at_token_time(github: Served) -> None:
    verifier = "v" * 50

    def exchange(sent_verifier: str | None) -> dict[str, str]:
        code = authorize_code(
            github.http,
            "/login/oauth/authorize",
            client_id=APP,
            redirect_uri="http://a/cb",
            code_challenge=challenge(verifier),
            code_challenge_method="S256",
        )["code"]
        body = {"client_id": APP, "client_secret": APP_SECRET, "code": code}
        if sent_verifier is not None:
            body["code_verifier"] = sent_verifier
        response = github.http.post(
            "/login/oauth/access_token", data=body, headers={"Accept": "application/json"}
        )
        result: dict[str, str] = response.json()
        return result

    assert "access_token" in exchange(verifier)
    assert exchange("w" * 50)["error"] == "bad_verification_code"
    assert exchange(None)["error"] == "bad_verification_code"


def test_refresh_rotates_and_the_old_refresh_token_dies(github: Served) -> None:
    token = github_token(github)

    def refresh(value: str) -> dict[str, str]:
        body = {
            "grant_type": "refresh_token",
            "client_id": APP,
            "client_secret": APP_SECRET,
            "refresh_token": value,
        }
        result: dict[str, str] = github.http.post(
            "/login/oauth/access_token", data=body, headers={"Accept": "application/json"}
        ).json()
        return result

    new = refresh(token["refresh_token"])
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] != token["refresh_token"]
    assert refresh(token["refresh_token"])["error"] == "bad_refresh_token"
    assert "access_token" in refresh(new["refresh_token"])
    stats = github.control("GET", "/oauth")["stats"]
    assert stats["refresh_token"] == 2 and stats["authorization_code"] == 1


def test_consent_can_be_denied(github: Served) -> None:
    github.control("PUT", "/oauth/consent", json={"deny": True})
    reply = authorize_code(
        github.http, "/login/oauth/authorize", client_id=APP, redirect_uri="http://a/cb", state="s"
    )
    assert reply == {"error": "access_denied", "error_description": reply["error_description"], "state": "s"}


def test_revoked_grant_answers_401_and_refresh_fails(github: Served) -> None:
    token = github_token(github)
    assert github.http.get("/api/v3/user", headers=gh_auth(token["access_token"])).status_code == 200
    github.control("POST", "/faults", json={"kind": "revoke"})
    response = github.http.get("/api/v3/user", headers=gh_auth(token["access_token"]))
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials" and "documentation_url" in response.json()
    body = {"grant_type": "refresh_token", "client_id": APP, "client_secret": APP_SECRET}
    reply = github.http.post(
        "/login/oauth/access_token",
        data=body | {"refresh_token": token["refresh_token"]},
        headers={"Accept": "application/json"},
    ).json()
    assert reply["error"] == "bad_refresh_token"


def test_expired_access_token_is_refused_until_refreshed(github: Served) -> None:
    token = github_token(github)
    github.control("POST", "/oauth/expire", json={"token": token["access_token"]})
    assert github.http.get("/api/v3/user", headers=gh_auth(token["access_token"])).status_code == 401
    body = {"grant_type": "refresh_token", "client_id": APP, "client_secret": APP_SECRET}
    new = github.http.post(
        "/login/oauth/access_token",
        data=body | {"refresh_token": token["refresh_token"]},
        headers={"Accept": "application/json"},
    ).json()
    assert github.http.get("/api/v3/user", headers=gh_auth(new["access_token"])).status_code == 200


def test_call_log_counts_token_requests(github: Served) -> None:
    github_token(github)
    github_token(github)
    calls = github.control("GET", "/calls")
    assert calls["by_route"]["oauth.token"] == 2
    assert calls["by_endpoint"]["POST /login/oauth/access_token"] == 2
