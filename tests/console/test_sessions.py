"""GraphQL with the session cookie: CSRF and origin checks, roles, sign-out, revocation, expiry, tenancy."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import websockets
from sqlalchemy import select, update
from websockets.typing import Origin, Subprotocol

from conduit import ids
from conduit.auth import members, sessions, throttle
from conduit.db.base import utcnow
from conduit.db.models import MemberRole, MemberSession, OutboxRow
from conduit.runtime import Runtime
from tests.conftest import LiveServer
from tests.factories import make_issue

from .conftest import PASSWORD, Browser, Org, Person, bearer, make_person

VIEWER = "{ viewer { scopes organizationId } }"
SESSIONS = "query($m: ID) { sessions(memberId: $m) { id memberId current active userAgent revokedAt } }"
REVOKE = "mutation($id: ID!) { revokeSession(id: $id) { __typename ... on RevokeSessionPayload { session { id active } } } }"


async def signed_in(browser: Browser, person: Person) -> Browser:
    response = await browser.sign_in(person.email)
    assert response.status_code == 200, response.text
    return browser


async def test_graphql_with_the_cookie_acts_as_the_member(browser: Browser, member: Person) -> None:
    await signed_in(browser, member)
    data = await browser.data(VIEWER + " ")
    assert data["viewer"]["organizationId"] == ids.encode("Organization", member.organization_id)
    assert data["viewer"]["scopes"] == list(members.MEMBER_SCOPES)


async def test_a_cookie_request_without_the_csrf_header_is_refused(browser: Browser, member: Person) -> None:
    await signed_in(browser, member)
    response = await browser.http.post("/graphql", json={"query": VIEWER}, headers={"Origin": browser.origin})
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN" and sessions.CSRF_HEADER in error["message"]


async def test_a_wrong_csrf_header_is_refused(browser: Browser, member: Person, browser2: Browser) -> None:
    await signed_in(browser, member)
    await signed_in(browser2, member)
    # Another session's token (of the same member) is as wrong as a made-up one.
    for wrong in ("nope", browser2.csrf or "", "x" * 5000):
        response = await browser.graphql(VIEWER, headers={sessions.CSRF_HEADER: wrong})
        assert response.status_code == 403, wrong[:10]


async def test_a_foreign_origin_or_referer_is_refused(browser: Browser, member: Person) -> None:
    await signed_in(browser, member)
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": browser.origin.replace("127.0.0.1", "localhost")},
        {"Origin": browser.origin + "0"},
    ):
        response = await browser.graphql(VIEWER, headers=headers)
        assert response.status_code == 403, headers
        assert "Origin" in response.json()["errors"][0]["message"]
    no_origin = {sessions.CSRF_HEADER: browser.csrf or "", "Referer": "https://evil.example/page"}
    response = await browser.http.post("/graphql", json={"query": VIEWER}, headers=no_origin)
    assert response.status_code == 403
    # Without Origin or Referer (a non-browser client with the cookie), the CSRF header is the proof.
    response = await browser.http.post(
        "/graphql", json={"query": VIEWER}, headers={sessions.CSRF_HEADER: browser.csrf or ""}
    )
    assert response.status_code == 200


async def test_a_forged_cross_site_post_is_refused(browser: Browser, admin: Person) -> None:
    """What another site can make a signed-in browser send: the cookie, its own Origin, no custom header."""
    await signed_in(browser, admin)
    forged = 'mutation { createApiToken(input: {name: "stolen", scopes: ["admin"]}) { __typename } }'
    form = await browser.http.post(
        "/graphql", data={"query": forged}, headers={"Origin": "https://evil.example"}
    )
    assert form.status_code == 415
    text = await browser.http.post(
        "/graphql",
        content=json.dumps({"query": forged}),
        headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
    )
    assert text.status_code == 415
    as_json = await browser.http.post(
        "/graphql", json={"query": forged}, headers={"Origin": "https://evil.example"}
    )
    assert as_json.status_code == 403
    tokens = await browser.data("{ organization { apiTokens { nodes { name } } } }")
    assert "stolen" not in {t["name"] for t in tokens["organization"]["apiTokens"]["nodes"]}


async def test_bearer_requests_ignore_the_cookie(
    server: LiveServer, browser: Browser, org: Org, member: Person
) -> None:
    await signed_in(browser, member)
    # A bearer token with a member's cookie along: the token decides, and no CSRF header is needed.
    response = await browser.http.post(
        "/graphql", json={"query": VIEWER}, headers={**org.auth, "Origin": "https://elsewhere.example"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["scopes"] == ["admin"]
    bad = await browser.http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": "Bearer cdt_wrong"}
    )
    assert bad.status_code == 401


async def test_a_plain_member_cannot_run_admin_mutations_or_read_admin_data(
    browser: Browser, member: Person
) -> None:
    await signed_in(browser, member)
    data = await browser.data(
        'mutation { createApiToken(input: {name: "t", scopes: ["issue:read"]}) { __typename ... on ForbiddenError { requiredScope } } }'
    )
    assert data["createApiToken"] == {"__typename": "ForbiddenError", "requiredScope": "token:write"}
    data = await browser.data(
        "mutation($id: ID!) { setMemberRole(id: $id, role: ADMIN) { __typename ... on ForbiddenError { requiredScope } } }",
        {"id": member.gid},
    )
    assert data["setMemberRole"] == {"__typename": "ForbiddenError", "requiredScope": "admin"}
    response = await browser.graphql("{ apps { id } }")
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # What a member is for: the organization's issues.
    await browser.data("{ organization { projects { nodes { issues { nodes { id } } } } } }")


async def test_owner_and_admin_sessions_hold_admin(
    runtime: Runtime, browser: Browser, browser2: Browser, org: Org
) -> None:
    owner = await make_person(runtime, org, MemberRole.OWNER)
    admin = await make_person(runtime, org, MemberRole.ADMIN)
    assert (await browser.sign_in(owner.email)).json()["scopes"] == ["admin"]
    assert (await browser2.sign_in(admin.email)).json()["scopes"] == ["admin"]
    data = await browser2.data(
        'mutation { createApiToken(input: {name: "made by a member", scopes: ["issue:read"]}) { __typename } }'
    )
    assert data["createApiToken"]["__typename"] == "CreateApiTokenPayload"


async def test_sign_out_needs_the_csrf_header_and_ends_the_session(browser: Browser, member: Person) -> None:
    await signed_in(browser, member)
    cookie = browser.cookie
    refused = await browser.http.post("/console/sign-out", headers={"Origin": browser.origin})
    assert refused.status_code == 403
    foreign = await browser.http.post(
        "/console/sign-out",
        headers={"Origin": "https://evil.example", sessions.CSRF_HEADER: browser.csrf or ""},
    )
    assert foreign.status_code == 403
    assert (await browser.http.get("/console/session")).status_code == 200

    out = await browser.http.post(
        "/console/sign-out", headers={"Origin": browser.origin, sessions.CSRF_HEADER: browser.csrf or ""}
    )
    assert out.status_code == 204
    cleared = next(v for k, v in out.headers.multi_items() if k.lower() == "set-cookie")
    assert cleared.startswith(f'{sessions.COOKIE_NAME}=""') and "Max-Age=0" in cleared
    # The old value no longer works anywhere, even if a copy of it was kept.
    assert (
        await browser.http.get("/console/session", cookies={sessions.COOKIE_NAME: cookie or ""})
    ).status_code == 401
    response = await browser.http.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Origin": browser.origin, sessions.CSRF_HEADER: browser.csrf or ""},
        cookies={sessions.COOKIE_NAME: cookie or ""},
    )
    assert response.status_code == 401
    assert (await browser.http.post("/console/sign-out")).status_code == 401


async def test_a_member_lists_and_revokes_their_own_sessions(
    browser: Browser, browser2: Browser, member: Person
) -> None:
    await signed_in(browser, member)
    await signed_in(browser2, member)
    listed = (await browser.data(SESSIONS))["sessions"]
    assert len(listed) == 2 and all(s["memberId"] == member.gid and s["active"] for s in listed)
    current = [s for s in listed if s["current"]]
    other = [s for s in listed if not s["current"]]
    assert len(current) == len(other) == 1
    data = await browser.data(REVOKE, {"id": other[0]["id"]})
    assert data["revokeSession"]["session"] == {"id": other[0]["id"], "active": False}
    assert (await browser2.http.get("/console/session")).status_code == 401
    assert (await browser.http.get("/console/session")).status_code == 200


async def test_a_member_cannot_see_or_revoke_another_members_sessions(
    runtime: Runtime, browser: Browser, browser2: Browser, org: Org, member: Person
) -> None:
    colleague = await make_person(runtime, org)
    await signed_in(browser, member)
    await signed_in(browser2, colleague)
    theirs = (await browser2.data(SESSIONS))["sessions"][0]["id"]
    assert (await browser.data(REVOKE, {"id": theirs}))["revokeSession"]["__typename"] == "NotFoundError"
    response = await browser.graphql(SESSIONS, {"m": colleague.gid})
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await browser2.http.get("/console/session")).status_code == 200


async def test_an_admin_revokes_any_members_session(
    server: LiveServer, browser: Browser, browser2: Browser, admin: Person, member: Person
) -> None:
    await signed_in(browser, admin)
    await signed_in(browser2, member)
    theirs = (await browser.data(SESSIONS, {"m": member.gid}))["sessions"]
    assert len(theirs) == 1 and not theirs[0]["current"]
    data = await browser.data(REVOKE, {"id": theirs[0]["id"]})
    assert data["revokeSession"]["__typename"] == "RevokeSessionPayload"
    assert (await browser2.http.get("/console/session")).status_code == 401


async def test_a_role_change_or_removal_ends_the_members_sessions(
    runtime: Runtime, server: LiveServer, browser: Browser, browser2: Browser, org: Org
) -> None:
    promoted = await make_person(runtime, org)
    removed = await make_person(runtime, org)
    await signed_in(browser, promoted)
    await signed_in(browser2, removed)
    data = await bearer(
        server,
        org,
        "mutation($id: ID!) { setMemberRole(id: $id, role: ADMIN) { __typename ... on SetMemberRolePayload { member { role } } } }",
        {"id": promoted.gid},
    )
    assert data["setMemberRole"]["member"]["role"] == "ADMIN"
    assert (await browser.http.get("/console/session")).status_code == 401
    # Signing in again gives the new role's scopes.
    assert (await browser.sign_in(promoted.email)).json()["scopes"] == ["admin"]

    data = await bearer(
        server, org, "mutation($id: ID!) { removeMember(id: $id) { __typename } }", {"id": removed.gid}
    )
    assert data["removeMember"]["__typename"] == "RemoveMemberPayload"
    assert (await browser2.http.get("/console/session")).status_code == 401
    assert (await browser2.sign_in(removed.email)).status_code == 401


async def test_the_last_owner_stays(runtime: Runtime, server: LiveServer, org: Org) -> None:
    owner = await make_person(runtime, org, MemberRole.OWNER)
    for mutation in (
        "mutation($id: ID!) { setMemberRole(id: $id, role: MEMBER) { __typename } }",
        "mutation($id: ID!) { removeMember(id: $id) { __typename } }",
    ):
        data = await bearer(server, org, mutation, {"id": owner.gid})
        assert next(iter(data.values()))["__typename"] == "ValidationError"


async def test_idle_and_absolute_expiry(
    runtime: Runtime, browser: Browser, browser2: Browser, member: Person
) -> None:
    await signed_in(browser, member)
    await signed_in(browser2, member)
    now = utcnow()
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                MemberSession.__table__.select()
                .where(MemberSession.member_id == member.id)
                .order_by(MemberSession.id)
            )
        ).all()
        idle, old = rows[0].id, rows[1].id
        await session.execute(
            update(MemberSession)
            .where(MemberSession.id == idle)
            .values(last_seen_at=now - sessions.IDLE_TIMEOUT - timedelta(seconds=1))
        )
        await session.execute(
            update(MemberSession).where(MemberSession.id == old).values(expires_at=now - timedelta(seconds=1))
        )
        await session.commit()
    assert (await browser.http.get("/console/session")).status_code == 401
    assert (await browser2.http.get("/console/session")).status_code == 401


async def test_set_password(browser: Browser, browser2: Browser, member: Person) -> None:
    await signed_in(browser, member)
    await signed_in(browser2, member)
    mutation = "mutation($c: String!, $n: String!) { setPassword(current: $c, new: $n) { __typename ... on ValidationError { field message } } }"
    for current, new, field in (
        (PASSWORD, "short", "new"),
        (PASSWORD, "p" * 1025, "new"),
        ("not the current password", "a brand new password", "current"),
    ):
        result = (await browser.data(mutation, {"c": current, "n": new}))["setPassword"]
        assert result["__typename"] == "ValidationError" and result["field"] == field, result
    done = (await browser.data(mutation, {"c": PASSWORD, "n": "a brand new password"}))["setPassword"]
    assert done["__typename"] == "SetPasswordPayload"
    # The other browser's session ended; this one goes on.
    assert (await browser2.http.get("/console/session")).status_code == 401
    assert (await browser.http.get("/console/session")).status_code == 200
    assert (await browser2.sign_in(member.email)).status_code == 401
    assert (await browser2.sign_in(member.email, "a brand new password")).status_code == 200


async def test_set_password_needs_a_member(server: LiveServer, org: Org) -> None:
    data = await bearer(
        server, org, 'mutation { setPassword(current: "", new: "long enough password") { __typename } }'
    )
    assert data["setPassword"]["__typename"] == "ForbiddenError"


async def test_a_member_who_never_had_a_password_sets_one(
    runtime: Runtime, server: LiveServer, browser: Browser, org: Org
) -> None:
    person = await make_person(runtime, org, password_hash=None)
    link = (
        await bearer(
            server,
            org,
            "mutation($id: ID!) { createSignInLink(memberId: $id) { ... on CreateSignInLinkPayload { url } } }",
            {"id": person.gid},
        )
    )["createSignInLink"]["url"]
    assert (await browser.http.get(httpx.URL(link).path)).status_code == 303
    browser.csrf = (await browser.http.get("/console/session")).json()["csrfToken"]
    data = await browser.data(
        'mutation { setPassword(current: "", new: "my first password") { __typename } }'
    )
    assert data["setPassword"]["__typename"] == "SetPasswordPayload"
    assert (await browser.sign_in(person.email, "my first password")).status_code == 200


async def test_failed_sign_ins_are_throttled_per_account(
    browser: Browser, browser2: Browser, member: Person
) -> None:
    for _ in range(throttle.PER_ACCOUNT):
        assert (await browser.sign_in(member.email, "wrong password here")).status_code == 401
    refused = await browser.sign_in(member.email)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= throttle.WINDOW.total_seconds()
    # From another address too: the account is what is being guessed.
    assert (await browser2.sign_in(member.email)).status_code == 429


async def test_failed_sign_ins_are_throttled_per_address(
    runtime: Runtime, server: LiveServer, member: Person
) -> None:
    address = "203.0.113.9"
    checks = throttle.limits("someone@example.com", None, address)
    async with runtime.sessions() as session:
        for _ in range(throttle.PER_ADDRESS):
            await throttle.record_failure(session, (checks[1],))
    async with httpx.AsyncClient(base_url=server.url, headers={"X-Forwarded-For": address}) as http:
        response = await http.post("/console/sign-in", json={"email": member.email, "password": PASSWORD})
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    async with httpx.AsyncClient(base_url=server.url, headers={"X-Forwarded-For": "203.0.113.10"}) as http:
        response = await http.post("/console/sign-in", json={"email": member.email, "password": PASSWORD})
    assert response.status_code == 200


async def test_a_session_never_reaches_another_organization(
    runtime: Runtime, server: LiveServer, browser: Browser, browser2: Browser, admin: Person, other_org: Org
) -> None:
    stranger = await make_person(runtime, other_org, MemberRole.ADMIN)
    await signed_in(browser, admin)
    await signed_in(browser2, stranger)
    their_session = (await browser2.data(SESSIONS))["sessions"][0]["id"]
    their_project = (await bearer(server, other_org, "{ organization { projects { nodes { id } } } }"))[
        "organization"
    ]["projects"]["nodes"][0]["id"]

    data = await browser.data(
        "query($m: ID!, $p: ID!) { member: node(id: $m) { id } project: node(id: $p) { id } }",
        {"m": stranger.gid, "p": their_project},
    )
    assert data == {"member": None, "project": None}
    assert (await browser.data(SESSIONS, {"m": stranger.gid}))["sessions"] == []
    assert (await browser.data(REVOKE, {"id": their_session}))["revokeSession"][
        "__typename"
    ] == "NotFoundError"
    for mutation in (
        "createSignInLink(memberId: $id)",
        "setMemberRole(id: $id, role: MEMBER)",
        "removeMember(id: $id)",
    ):
        data = await browser.data(
            f"mutation($id: ID!) {{ result: {mutation} {{ __typename }} }}", {"id": stranger.gid}
        )
        assert data["result"]["__typename"] == "NotFoundError"
    assert (await browser2.http.get("/console/session")).status_code == 200


PROTOCOLS = [Subprotocol("graphql-transport-ws")]


def _ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


async def test_a_websocket_signed_in_by_cookie_needs_our_origin(
    server: LiveServer, browser: Browser, member: Person
) -> None:
    await signed_in(browser, member)
    cookie = f"{sessions.COOKIE_NAME}={browser.cookie}"
    async with websockets.connect(
        _ws_url(server),
        subprotocols=PROTOCOLS,
        additional_headers={"Cookie": cookie},
        origin=Origin(server.url),
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
    # A page elsewhere is refused at the handshake; a client stating no origin at connection_init.
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(
            _ws_url(server),
            subprotocols=PROTOCOLS,
            additional_headers={"Cookie": cookie},
            origin=Origin("https://evil.example"),
        ):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(
        _ws_url(server),
        subprotocols=PROTOCOLS,
        additional_headers={"Cookie": cookie},
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_a_websocket_with_an_ended_session_is_closed_4401(server: LiveServer) -> None:
    cookie = f"{sessions.COOKIE_NAME}={sessions.TOKEN_PREFIX}{'z' * 43}"
    async with websockets.connect(
        _ws_url(server),
        subprotocols=PROTOCOLS,
        additional_headers={"Cookie": cookie},
        origin=Origin(server.url),
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_what_a_member_does_is_attributed_to_the_member(
    runtime: Runtime, browser: Browser, org: Org, member: Person
) -> None:
    async with runtime.sessions() as session:
        issue = await make_issue(session, org.id, org.project_id)
        await session.commit()
        issue_gid = ids.encode("Issue", issue.id)
    await signed_in(browser, member)
    data = await browser.data(
        "mutation($id: ID!) { updateIssue(input: {id: $id, status: RESOLVED}) { __typename } }",
        {"id": issue_gid},
    )
    assert data["updateIssue"]["__typename"] == "UpdateIssuePayload"
    async with runtime.sessions() as session:
        rows = (
            (await session.execute(select(OutboxRow).where(OutboxRow.organization_id == org.id)))
            .scalars()
            .all()
        )
    resolved = [r.payload for r in rows if r.payload.get("type") == "issue.resolved"]
    assert [p["actor"] for p in resolved] == [{"type": "member", "id": member.gid}]
