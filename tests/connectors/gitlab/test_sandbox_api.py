"""The GitLab sandbox's REST v4 face: paths and encoded project ids, error shapes, pagination, ETags,
rate limits, moves and the one GraphQL query."""

from __future__ import annotations

from typing import Any

import pytest

from tests.connectors.gitlab.conftest import gitlab_token
from tests.connectors.sandbox.serving import Served, bearer

PROJECT = "/api/v4/projects/acme%2Fwidgets"


@pytest.fixture
def auth(gitlab: Served) -> dict[str, str]:
    return bearer(gitlab_token(gitlab)["access_token"])


def _issue(gitlab: Served, auth: dict[str, str], title: str = "KeyError: 'user'", **extra: Any) -> Any:
    created = gitlab.http.post(PROJECT + "/issues", json={"title": title, **extra}, headers=auth)
    assert created.status_code == 201, created.text
    return created.json()


def test_an_issue_is_created_read_and_updated(gitlab: Served, auth: dict[str, str]) -> None:
    issue = _issue(gitlab, auth, description="Seen twice")
    assert (issue["iid"], issue["state"], issue["references"]["full"]) == (1, "opened", "acme/widgets#1")
    assert issue["web_url"] == f"{gitlab.url}/acme/widgets/-/issues/1"
    assert issue["updated_at"].endswith("Z") and "." in issue["updated_at"]
    # By numeric id as well as by encoded path.
    by_id = gitlab.http.get(f"/api/v4/projects/{issue['project_id']}/issues/1", headers=auth)
    assert by_id.json()["id"] == issue["id"]

    closed = gitlab.http.put(PROJECT + "/issues/1", json={"state_event": "close"}, headers=auth).json()
    assert closed["state"] == "closed" and closed["closed_by"]["username"] == "ada"
    assert closed["updated_at"] > issue["updated_at"]
    grace = gitlab.http.get("/api/v4/users", params={"username": "grace"}, headers=auth).json()[0]
    assigned = gitlab.http.put(
        PROJECT + "/issues/1", json={"assignee_ids": [grace["id"]]}, headers=auth
    ).json()
    assert [a["username"] for a in assigned["assignees"]] == ["grace"]
    cleared = gitlab.http.put(PROJECT + "/issues/1", json={"assignee_ids": []}, headers=auth).json()
    assert cleared["assignees"] == [] and cleared["assignee"] is None


def test_unencoded_project_paths_and_missing_things_are_404s(gitlab: Served, auth: dict[str, str]) -> None:
    _issue(gitlab, auth)
    unencoded = gitlab.http.get("/api/v4/projects/acme/widgets/issues/1", headers=auth)
    assert unencoded.status_code == 404 and unencoded.json() == {"message": "404 Project Not Found"}
    missing = gitlab.http.get(PROJECT + "/issues/99", headers=auth)
    assert missing.status_code == 404 and missing.json() == {"message": "404 Issue Not Found"}


def test_error_shapes(gitlab: Served, auth: dict[str, str]) -> None:
    no_title = gitlab.http.post(PROJECT + "/issues", json={}, headers=auth)
    assert no_title.status_code == 400 and no_title.json() == {"error": "title is missing"}
    blank = gitlab.http.post(PROJECT + "/issues", json={"title": " "}, headers=auth)
    assert blank.status_code == 400 and blank.json() == {"message": {"title": ["can't be blank"]}}
    _issue(gitlab, auth)
    bad = gitlab.http.put(PROJECT + "/issues/1", json={"state_event": "resolve"}, headers=auth)
    assert bad.status_code == 400 and "state_event" in bad.json()["error"]
    anonymous = gitlab.http.get(PROJECT + "/issues/1")
    assert anonymous.status_code == 401 and anonymous.json() == {"message": "401 Unauthorized"}
    forged = gitlab.http.get(PROJECT + "/issues/1", headers=bearer("not-a-token"))
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]


def test_listing_pages_filters_and_batches(gitlab: Served, auth: dict[str, str]) -> None:
    for n in range(5):
        _issue(gitlab, auth, title=f"Error {n}")
    first = gitlab.http.get(PROJECT + "/issues", params={"per_page": 2}, headers=auth)
    assert [i["iid"] for i in first.json()] == [5, 4]  # newest first by default
    assert (first.headers["x-total"], first.headers["x-total-pages"], first.headers["x-next-page"]) == (
        "5",
        "3",
        "2",
    )
    assert 'rel="next"' in first.headers["link"]
    last = gitlab.http.get(PROJECT + "/issues", params={"per_page": 2, "page": 3}, headers=auth)
    assert last.headers["x-next-page"] == "" and 'rel="next"' not in last.headers["link"]

    batch = gitlab.http.get(PROJECT + "/issues", params={"iids[]": ["2", "4"]}, headers=auth).json()
    assert sorted(i["iid"] for i in batch) == [2, 4]
    found = gitlab.http.get(PROJECT + "/issues", params={"search": "error 3"}, headers=auth).json()
    assert [i["iid"] for i in found] == [4]

    gitlab.http.put(PROJECT + "/issues/2", json={"state_event": "close"}, headers=auth)
    since = gitlab.http.get(PROJECT + "/issues/2", headers=auth).json()["updated_at"]
    changed = gitlab.http.get(
        PROJECT + "/issues", params={"updated_after": since, "order_by": "updated_at"}, headers=auth
    ).json()
    assert [i["iid"] for i in changed] == [2]
    assert [
        i["iid"]
        for i in gitlab.http.get(PROJECT + "/issues", params={"state": "closed"}, headers=auth).json()
    ] == [2]


def test_etags_answer_304_until_the_issue_changes(gitlab: Served, auth: dict[str, str]) -> None:
    _issue(gitlab, auth)
    first = gitlab.http.get(PROJECT + "/issues/1", headers=auth)
    again = gitlab.http.get(PROJECT + "/issues/1", headers=auth | {"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == first.headers["etag"]
    gitlab.http.post(PROJECT + "/issues/1/notes", json={"body": "seen again"}, headers=auth)
    changed = gitlab.http.get(PROJECT + "/issues/1", headers=auth | {"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200


def test_notes_list_newest_first_with_system_notes(gitlab: Served, auth: dict[str, str]) -> None:
    _issue(gitlab, auth)
    gitlab.http.post(PROJECT + "/issues/1/notes", json={"body": "first"}, headers=auth)
    gitlab.http.put(PROJECT + "/issues/1", json={"state_event": "close"}, headers=auth)
    notes = gitlab.http.get(PROJECT + "/issues/1/notes", headers=auth).json()
    assert [(n["body"], n["system"]) for n in notes] == [("closed", True), ("first", False)]
    blank = gitlab.http.post(PROJECT + "/issues/1/notes", json={"body": ""}, headers=auth)
    assert blank.status_code == 400 and blank.json() == {"message": {"note": ["can't be blank"]}}


def test_user_search_shows_public_emails_only(gitlab: Served, auth: dict[str, str]) -> None:
    gitlab.control(
        "POST", "/people", json={"name": "hidden", "email": "hidden@example.com", "email_shown": False}
    )
    public = gitlab.http.get("/api/v4/users", params={"search": "grace@example.com"}, headers=auth).json()
    assert [u["username"] for u in public] == ["grace"] and "email" not in public[0]
    assert (
        gitlab.http.get("/api/v4/users", params={"search": "hidden@example.com"}, headers=auth).json() == []
    )
    me = gitlab.http.get("/api/v4/user", headers=auth).json()
    assert (me["username"], me["email"]) == ("ada", "ada@example.com")


def test_a_moved_issue_points_at_its_new_self(gitlab: Served, auth: dict[str, str]) -> None:
    old = _issue(gitlab, auth)
    moved = gitlab.http.post(
        PROJECT + "/issues/1/move", json={"to_project_id": "acme/platform/api"}, headers=auth
    )
    assert moved.status_code == 201
    new = moved.json()
    assert new["references"]["full"] == "acme/platform/api#1" and new["id"] != old["id"]
    before = gitlab.http.get(PROJECT + "/issues/1", headers=auth).json()
    assert (before["state"], before["moved_to_id"]) == ("closed", new["id"])
    query = "query($id: IssueID!) { issue(id: $id) { iid reference(full: true) webUrl } }"
    answer = gitlab.http.post(
        "/api/graphql",
        json={"query": query, "variables": {"id": f"gid://gitlab/Issue/{new['id']}"}},
        headers=auth,
    ).json()
    assert answer["data"]["issue"]["reference"] == "acme/platform/api#1"
    nothing = gitlab.http.post(
        "/api/graphql", json={"query": query, "variables": {"id": "gid://gitlab/Issue/1"}}, headers=auth
    ).json()
    assert nothing == {"data": {"issue": None}}


def test_the_rate_limit_is_a_plain_text_429_with_headers(gitlab: Served, auth: dict[str, str]) -> None:
    gitlab.control("PUT", "/ratelimit", json={"limit": 2, "reset": True})
    ok = gitlab.http.get("/api/v4/user", headers=auth)
    assert ok.status_code == 200 and ok.headers["ratelimit-remaining"] == "1"
    assert ok.headers["ratelimit-limit"] == "2" and ok.headers["ratelimit-resettime"].endswith("GMT")
    gitlab.http.get("/api/v4/user", headers=auth)
    limited = gitlab.http.get("/api/v4/user", headers=auth)
    assert limited.status_code == 429 and limited.text == "Retry later\n"
    assert limited.headers["ratelimit-remaining"] == "0" and int(limited.headers["retry-after"]) >= 1
