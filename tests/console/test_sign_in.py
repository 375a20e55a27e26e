"""Signing in with a password and with one-time links, and the cookie that results."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from starlette.requests import Request

from conduit import ids
from conduit.auth import members, sessions
from conduit.console.routes import LINK_USED, cookie_secure
from conduit.db.base import utcnow
from conduit.db.models import Member, MemberRole, SignInLink
from conduit.runtime import Runtime
from conduit.settings import Settings
from tests.conftest import LiveServer

from .conftest import PASSWORD, Browser, Org, Person, bearer, make_org, make_person

SESSION_QUERY = "{ viewer { scopes organizationId } }"


def set_cookie_attributes(response: httpx.Response) -> dict[str, str]:
    header = next(v for k, v in response.headers.multi_items() if k.lower() == "set-cookie")
    name_value, *attributes = (part.strip() for part in header.split(";"))
    assert name_value.startswith(f"{sessions.COOKIE_NAME}=")
    out = {"value": name_value.split("=", 1)[1]}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        out[key.lower()] = value
    return out


async def test_password_sign_in_answers_the_session_and_sets_the_cookie(
    browser: Browser, member: Person
) -> None:
    response = await browser.sign_in(member.email)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["member"] == {"id": member.gid, "email": member.email, "name": "Someone", "role": "member"}
    assert body["organization"]["id"] == ids.encode("Organization", member.organization_id)
    assert body["scopes"] == list(members.MEMBER_SCOPES)
    assert len(body["csrfToken"]) >= 40
    cookie = set_cookie_attributes(response)
    assert cookie["value"].startswith(sessions.TOKEN_PREFIX)
    assert "httponly" in cookie and cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
    # Plain http to loopback: a Secure cookie would never come back.
    assert "secure" not in cookie
    assert int(cookie["max-age"]) == int(sessions.ABSOLUTE_TIMEOUT.total_seconds())
    assert response.headers["cache-control"] == "no-store"

    again = await browser.http.get("/console/session")
    assert again.status_code == 200
    assert again.json() == body


async def test_email_is_matched_without_regard_to_case(browser: Browser, member: Person) -> None:
    response = await browser.sign_in("  " + member.email.upper())
    assert response.status_code == 200


async def test_unknown_email_and_wrong_password_get_one_answer(browser: Browser, member: Person) -> None:
    wrong = await browser.sign_in(member.email, "not the password at all")
    unknown = await browser.sign_in("nobody-" + member.email)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "the email or password is not right"}
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


async def test_a_member_without_a_password_cannot_sign_in_with_one(
    runtime: Runtime, browser: Browser, org: Org
) -> None:
    person = await make_person(runtime, org, password_hash=None)
    response = await browser.sign_in(person.email, "")
    assert response.status_code == 401


async def test_an_email_in_several_organizations_must_name_one(
    runtime: Runtime, browser: Browser, org: Org, other_org: Org
) -> None:
    first = await make_person(runtime, org)
    await make_person(runtime, other_org, email=first.email)
    response = await browser.sign_in(first.email)
    assert response.status_code == 400
    assert "organization" in response.json()["error"]
    assert {o["slug"] for o in response.json()["organizations"]} == {org.slug, other_org.slug}
    assert "set-cookie" not in response.headers

    chosen = await browser.sign_in(first.email, organization=other_org.slug)
    assert chosen.status_code == 200
    assert chosen.json()["organization"]["slug"] == other_org.slug
    # A wrong password is the same 401 whether or not the email is ambiguous: nothing is learnt.
    assert (await browser.sign_in(first.email, "wrong password, long enough")).status_code == 401


async def test_sign_in_refuses_a_form_post_and_a_foreign_origin(browser: Browser, member: Person) -> None:
    form = await browser.http.post(
        "/console/sign-in",
        data={"email": member.email, "password": PASSWORD},
        headers={"Origin": browser.origin},
    )
    assert form.status_code == 415
    foreign = await browser.http.post(
        "/console/sign-in",
        json={"email": member.email, "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert browser.cookie is None


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"email": 5, "password": "x"}', "application/json", 400),
        (b'{"email": "a@example.com", "password": ["x"]}', "application/json", 400),
        (b'{"email": "a@example.com", "password": "x", "organization": 7}', "application/json", 400),
        (b'{"email": "a@example.com"}', "application/json", 400),
        (b'{"email": "' + b"a" * 400 + b'@example.com", "password": "x"}', "application/json", 400),
        (b'{"email": "a@example.com", "password": "' + b"p" * 2000 + b'"}', "application/json", 400),
        (b'{"email": "a@example.com", "password": "x\\u0000"}', "application/json", 400),
        (b'{"email": "a@example.com", "password": "' + b"p" * 20_000 + b'"}', "application/json", 413),
        (b'{"email": "a@example.com", "password": "x"}', "text/plain", 415),
    ],
)
async def test_hostile_sign_in_bodies_are_refused(
    browser: Browser, body: bytes, content_type: str, status: int
) -> None:
    response = await browser.http.post(
        "/console/sign-in", content=body, headers={"Content-Type": content_type, "Origin": browser.origin}
    )
    assert response.status_code == status, response.text
    assert isinstance(response.json()["error"], str)
    assert "set-cookie" not in response.headers


async def test_session_without_or_with_a_bad_cookie_is_401(browser: Browser) -> None:
    assert (await browser.http.get("/console/session")).status_code == 401
    for value in ("garbage", sessions.TOKEN_PREFIX + "x" * 43, sessions.TOKEN_PREFIX + "y" * 5000):
        response = await browser.http.get("/console/session", cookies={sessions.COOKIE_NAME: value})
        assert response.status_code == 401
        assert "error" in response.json()


async def test_a_sign_in_link_works_once(
    server: LiveServer, browser: Browser, org: Org, member: Person
) -> None:
    data = await bearer(
        server,
        org,
        "mutation($id: ID!) { createSignInLink(memberId: $id) { ... on CreateSignInLinkPayload { url expiresAt member { email } } } }",
        {"id": member.gid},
    )
    payload = data["createSignInLink"]
    assert payload["member"]["email"] == member.email
    url = httpx.URL(payload["url"])
    assert url.path.startswith("/console/sign-in/")

    first = await browser.http.get(url.path)
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert "httponly" in set_cookie_attributes(first)
    session = (await browser.http.get("/console/session")).json()
    assert session["member"]["id"] == member.gid

    browser.http.cookies.clear()
    second = await browser.http.get(url.path)
    assert second.status_code == 400
    assert LINK_USED in second.text and second.headers["content-type"].startswith("text/html")
    assert "set-cookie" not in second.headers


async def test_an_expired_or_unknown_link_is_refused(
    runtime: Runtime, browser: Browser, member: Person
) -> None:
    async with runtime.sessions() as session:
        row = await session.get(Member, member.id)
        assert row is not None
        link, token = await members.issue_link(session, row)
        await session.execute(
            update(SignInLink)
            .where(SignInLink.id == link.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    for path in (
        f"/console/sign-in/{token}",
        f"/console/sign-in/{members.LINK_PREFIX}unknown",
        "/console/sign-in/%3Cscript%3E",
        "/console/sign-in/" + "a" * 5000,
    ):
        response = await browser.http.get(path)
        assert response.status_code == 400, path
        assert LINK_USED in response.text and "<script>" not in response.text
    assert browser.cookie is None


async def test_only_an_admin_issues_sign_in_links(browser: Browser, member: Person) -> None:
    assert (await browser.sign_in(member.email)).status_code == 200
    data = await browser.data(
        "mutation($id: ID!) { createSignInLink(memberId: $id) { __typename ... on ForbiddenError { requiredScope } } }",
        {"id": member.gid},
    )
    assert data["createSignInLink"] == {"__typename": "ForbiddenError", "requiredScope": "admin"}


async def test_an_admin_cannot_issue_a_link_for_another_organizations_member(
    runtime: Runtime, server: LiveServer, org: Org, other_org: Org
) -> None:
    stranger = await make_person(runtime, other_org)
    data = await bearer(
        server,
        org,
        "mutation($id: ID!) { createSignInLink(memberId: $id) { __typename } }",
        {"id": stranger.gid},
    )
    assert data["createSignInLink"]["__typename"] == "NotFoundError"


def _request(scheme: str, host: str) -> Request:
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "method": "GET",
            "path": "/",
            "headers": [(b"host", host.encode())],
            "query_string": b"",
        }
    )


@pytest.mark.parametrize(
    ("env", "setting", "scheme", "host", "secure"),
    [
        ("production", "auto", "https", "conduit.example.com", True),
        ("production", "auto", "http", "conduit.example.com", True),
        ("production", "auto", "http", "127.0.0.1:8000", False),
        ("production", "auto", "http", "localhost:8000", False),
        ("production", "auto", "http", "[::1]:8000", False),
        ("development", "auto", "http", "10.0.0.5:8000", False),
        ("development", "auto", "https", "10.0.0.5", True),
        ("production", False, "https", "conduit.example.com", False),
        ("development", True, "http", "127.0.0.1", True),
    ],
)
def test_cookie_is_secure_unless_plain_local_http(
    env: str, setting: object, scheme: str, host: str, secure: bool
) -> None:
    settings = Settings(env=env, cookie_secure=setting, secret_key="k" * 40, database_url="sqlite://")  # type: ignore[arg-type]
    assert cookie_secure(settings, _request(scheme, host)) is secure


async def test_cookie_secure_setting_reaches_the_cookie(runtime: Runtime, org: Org) -> None:
    person = await make_person(runtime, org)
    with LiveServer(runtime.settings.model_copy(update={"cookie_secure": True})) as live:
        async with httpx.AsyncClient(base_url=live.url) as http:
            response = await http.post("/console/sign-in", json={"email": person.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "secure" in set_cookie_attributes(response)


async def test_demo_owner_is_made_once(runtime: Runtime) -> None:
    org = await make_org(runtime)
    async with runtime.sessions() as session:
        first = await members.ensure_owner(session, org.id, "Owner@Example.com", "Owner")
        again = await members.ensure_owner(session, org.id, "someone-else@example.com", "Other")
    assert first.id == again.id and first.role is MemberRole.OWNER and first.email == "owner@example.com"


async def test_a_head_request_does_not_spend_a_link(
    runtime: Runtime, browser: Browser, member: Person
) -> None:
    async with runtime.sessions() as session:
        row = await session.get(Member, member.id)
        assert row is not None
        _, token = await members.issue_link(session, row)
    head = await browser.http.head(f"/console/sign-in/{token}")
    assert head.status_code == 200 and "set-cookie" not in head.headers
    assert (await browser.http.get(f"/console/sign-in/{token}")).status_code == 303
