"""The Shortcut sandbox's REST v3: the Shortcut-Token header, stories, workflows, search, errors, limits."""

from __future__ import annotations

from typing import Any

import pytest

from tests.connectors.sandbox.serving import Served
from tests.connectors.shortcut.conftest import API, api_token, sc_auth


@pytest.fixture
def auth(shortcut: Served) -> dict[str, str]:
    return sc_auth(api_token(shortcut))


def story(shortcut: Served, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    made = shortcut.http.post(API + "/stories", json={"name": "Boom", **body}, headers=auth)
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def test_the_token_goes_in_the_shortcut_token_header(shortcut: Served) -> None:
    token = api_token(shortcut)
    assert shortcut.http.get(API + "/member").status_code == 401
    bearer = shortcut.http.get(API + "/member", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 401 and bearer.json() == {"message": "Unauthorized"}
    me = shortcut.http.get(API + "/member", headers=sc_auth(token)).json()
    assert me["workspace2"]["url_slug"] == "sandbox" and me["mention_name"] == "olivia"


def test_a_revoked_token_gets_401(shortcut: Served) -> None:
    token = api_token(shortcut)
    assert shortcut.http.delete(f"/_sandbox/api-tokens/{token}").status_code == 204
    assert shortcut.http.get(API + "/member", headers=sc_auth(token)).status_code == 401
    assert shortcut.http.delete(f"/_sandbox/api-tokens/{token}").status_code == 404
    # The shared introspection sees the same state.
    assert shortcut.control("POST", "/oauth/introspect", json={"token": token}) == {"active": False}


def test_tokens_of_other_members_act_as_them(shortcut: Served) -> None:
    sam = shortcut.control("POST", "/members", json={"name": "Sam", "email": "sam2@example.com"})
    token = api_token(shortcut, sam["id"])
    made = story(shortcut, sc_auth(token))
    assert made["requested_by_id"] == sam["id"]
    assert shortcut.http.post("/_sandbox/api-tokens", json={"user": "nobody"}).status_code == 404


def test_create_starts_in_the_default_workflow(shortcut: Served, auth: dict[str, str]) -> None:
    workflows = shortcut.http.get(API + "/workflows", headers=auth).json()
    [workflow] = workflows
    assert [s["type"] for s in workflow["states"]][:3] == ["backlog", "unstarted", "started"]
    made = story(shortcut, auth, description="It broke", story_type="bug")
    assert made["workflow_state_id"] == workflow["default_state_id"]
    assert made["app_url"] == f"{shortcut.url}/sandbox/story/{made['id']}"
    assert made["description"] == "It broke" and made["owner_ids"] == [] and not made["started"]
    fetched = shortcut.http.get(f"{API}/stories/{made['id']}", headers=auth).json()
    assert fetched["name"] == "Boom" and fetched["updated_at"].endswith("Z")


def test_schema_mismatches_and_unknown_things(shortcut: Served, auth: dict[str, str]) -> None:
    missing = shortcut.http.post(API + "/stories", json={"description": "x"}, headers=auth)
    assert missing.status_code == 400 and missing.json()["message"] == "Schema mismatch"
    assert "name" in missing.json()["errors"]
    garbage = shortcut.http.post(API + "/stories", content=b"{nope", headers=auth)
    assert garbage.status_code == 400
    bad_state = shortcut.http.post(API + "/stories", json={"name": "x", "workflow_state_id": 1}, headers=auth)
    assert bad_state.status_code == 422
    gone = shortcut.http.get(API + "/stories/999999", headers=auth)
    assert gone.status_code == 404 and gone.json() == {"message": "Resource not found."}


def test_update_moves_state_and_owners(shortcut: Served, auth: dict[str, str]) -> None:
    made = story(shortcut, auth)
    [workflow] = shortcut.http.get(API + "/workflows", headers=auth).json()
    done = next(s for s in workflow["states"] if s["type"] == "done")
    members = shortcut.http.get(API + "/members", headers=auth).json()
    sam = next(m for m in members if m["profile"]["email_address"] == "sam@example.com")
    moved = shortcut.http.put(
        f"{API}/stories/{made['id']}",
        json={"workflow_state_id": done["id"], "owner_ids": [sam["id"]]},
        headers=auth,
    ).json()
    assert moved["completed"] and moved["started"] and moved["owner_ids"] == [sam["id"]]
    assert moved["updated_at"] > made["updated_at"]
    unknown = shortcut.http.put(f"{API}/stories/{made['id']}", json={"owner_ids": ["x"]}, headers=auth)
    assert unknown.status_code == 422


def test_members_hide_a_private_email(shortcut: Served, auth: dict[str, str]) -> None:
    shortcut.control(
        "POST", "/people", json={"name": "shy", "email": "shy@example.com", "email_shown": False}
    )
    members = shortcut.http.get(API + "/members", headers=auth).json()
    shy = next(m for m in members if m["profile"]["mention_name"] == "shy")
    assert shy["profile"]["email_address"] is None


def test_comments(shortcut: Served, auth: dict[str, str]) -> None:
    made = story(shortcut, auth)
    posted = shortcut.http.post(f"{API}/stories/{made['id']}/comments", json={"text": "seen"}, headers=auth)
    assert posted.status_code == 201 and posted.json()["text"] == "seen"
    listed = shortcut.http.get(f"{API}/stories/{made['id']}/comments", headers=auth).json()
    assert [c["text"] for c in listed] == ["seen"] and listed[0]["entity_type"] == "story-comment"


def test_search_pages_and_operators(shortcut: Served, auth: dict[str, str]) -> None:
    for n in range(30):
        story(shortcut, auth, name=f"Database timeout {n}", description="conduit-ref-abc")
    story(shortcut, auth, name="UI glitch")
    first = shortcut.http.get(
        API + "/search/stories", params={"query": "timeout", "page_size": 25}, headers=auth
    ).json()
    assert first["total"] == 30 and len(first["data"]) == 25 and first["next"]
    rest = shortcut.http.get(first["next"], headers=auth).json()
    assert len(rest["data"]) == 5 and rest["next"] is None
    refs = shortcut.http.get(
        API + "/search/stories", params={"query": "conduit-ref-abc"}, headers=auth
    ).json()
    assert refs["total"] == 30
    done = shortcut.http.get(API + "/search/stories", params={"query": "is:done"}, headers=auth).json()
    assert done["total"] == 0
    bad = shortcut.http.get(API + "/search/stories", params={"query": "colour:red"}, headers=auth)
    assert bad.status_code == 400
    big = shortcut.http.get(API + "/search/stories", params={"query": "x", "page_size": 26}, headers=auth)
    assert big.status_code == 400


def test_query_stories_by_update_time(shortcut: Served, auth: dict[str, str]) -> None:
    old = story(shortcut, auth, name="old")
    shortcut.control("POST", "/clock", json={"advance": 120})
    new = story(shortcut, auth, name="new")
    listed = shortcut.http.post(
        API + "/stories/search", json={"updated_at_start": new["created_at"]}, headers=auth
    ).json()
    assert [s["id"] for s in listed] == [new["id"]] and "description" not in listed[0]
    everything = shortcut.http.post(API + "/stories/search", json={}, headers=auth).json()
    assert {s["id"] for s in everything} == {old["id"], new["id"]}


def test_two_hundred_requests_a_minute(shortcut: Served, auth: dict[str, str]) -> None:
    shortcut.control("PUT", "/ratelimit", json={"limit": 3, "reset": True})
    seen = [shortcut.http.get(API + "/member", headers=auth) for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert 0 < int(seen[-1].headers["retry-after"]) <= 60
    # Per token: another member's token still has its budget.
    assert shortcut.http.get(API + "/member", headers=sc_auth(api_token(shortcut))).status_code == 200
    shortcut.control("POST", "/clock", json={"advance": 61})
    assert shortcut.http.get(API + "/member", headers=auth).status_code == 200


def test_match_limits_a_fault_to_some_endpoints(shortcut: Served, auth: dict[str, str]) -> None:
    shortcut.control("POST", "/faults", json={"kind": "error", "match": "stories.create"})
    assert shortcut.http.get(API + "/member", headers=auth).status_code == 200
    failed = shortcut.http.post(API + "/stories", json={"name": "x"}, headers=auth)
    assert failed.status_code == 503 and failed.json() == {"message": "Server Error"}
