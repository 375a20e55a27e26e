"""GitHub sandbox REST: issues, comments, search, pagination, ETags, rate limits, errors."""

from __future__ import annotations

import pytest

from tests.connectors.github.conftest import gh_auth, github_token
from tests.connectors.sandbox.serving import Served

REPO = "/api/v3/repos/acme/widgets"


@pytest.fixture
def auth(github: Served) -> dict[str, str]:
    return gh_auth(github_token(github)["access_token"])


def test_create_get_and_close_an_issue(github: Served, auth: dict[str, str]) -> None:
    created = github.http.post(
        REPO + "/issues", json={"title": "Boom", "body": "trace", "labels": ["bug"]}, headers=auth
    )
    assert created.status_code == 201
    issue = created.json()
    assert issue["number"] == 1 and issue["state"] == "open" and issue["user"]["login"] == "octocat"
    assert issue["html_url"] == f"{github.url}/acme/widgets/issues/1"
    assert [label["name"] for label in issue["labels"]] == ["bug"]

    closed = github.http.patch(
        REPO + "/issues/1", json={"state": "closed", "state_reason": "not_planned"}, headers=auth
    ).json()
    assert closed["state"] == "closed" and closed["state_reason"] == "not_planned"
    assert closed["closed_by"]["login"] == "octocat" and closed["updated_at"] > issue["updated_at"]

    reopened = github.http.patch(REPO + "/issues/1", json={"state": "open"}, headers=auth).json()
    assert reopened["state"] == "open" and reopened["state_reason"] == "reopened"
    assert github.http.get(REPO + "/issues/1", headers=auth).json()["state"] == "open"


def test_assignees_and_labels_replace_the_sets(github: Served, auth: dict[str, str]) -> None:
    github.http.post(
        REPO + "/issues", json={"title": "t", "assignees": ["hubot"], "labels": ["a", "b"]}, headers=auth
    )
    updated = github.http.patch(
        REPO + "/issues/1", json={"assignees": ["monalisa"], "labels": ["c"]}, headers=auth
    ).json()
    assert [a["login"] for a in updated["assignees"]] == ["monalisa"]
    assert updated["assignee"]["login"] == "monalisa"
    assert [label["name"] for label in updated["labels"]] == ["c"]


def test_state_reason_is_ignored_without_a_state_change(github: Served, auth: dict[str, str]) -> None:
    github.http.post(REPO + "/issues", json={"title": "t"}, headers=auth)
    updated = github.http.patch(REPO + "/issues/1", json={"state_reason": "not_planned"}, headers=auth).json()
    assert updated["state"] == "open" and updated["state_reason"] is None


def test_validation_errors_are_422_with_errors(github: Served, auth: dict[str, str]) -> None:
    missing = github.http.post(REPO + "/issues", json={"body": "no title"}, headers=auth)
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"resource": "Issue", "field": "title", "code": "missing_field"}]
    bad_state = github.http.post(REPO + "/issues", json={"title": "x"}, headers=auth)
    assert bad_state.status_code == 201
    wrong = github.http.patch(REPO + "/issues/1", json={"state": "done"}, headers=auth)
    assert wrong.status_code == 422 and wrong.json()["message"] == "Validation Failed"
    unknown_user = github.http.post(
        REPO + "/issues", json={"title": "x", "assignees": ["ghost"]}, headers=auth
    )
    assert unknown_user.status_code == 422
    garbage = github.http.post(REPO + "/issues", content=b"{not json", headers=auth)
    assert garbage.status_code == 400 and garbage.json()["message"] == "Problems parsing JSON"


def test_unknown_private_and_deleted_resources(github: Served, auth: dict[str, str]) -> None:
    assert github.http.get("/api/v3/repos/acme/nope/issues/1", headers=auth).status_code == 404
    assert github.http.get(REPO + "/issues/99", headers=auth).status_code == 404
    github.control("POST", "/repos", json={"full_name": "secret/vault", "private": True})
    hidden = github.http.get("/api/v3/repos/secret/vault", headers=auth)
    assert hidden.status_code == 404 and hidden.json()["message"] == "Not Found"
    github.http.post(REPO + "/issues", json={"title": "t"}, headers=auth)
    github.control("DELETE", "/repos/acme/widgets/issues/1")
    assert github.http.get(REPO + "/issues/1", headers=auth).status_code == 410


def test_missing_or_bad_credentials(github: Served) -> None:
    assert github.http.get("/api/v3/user").status_code == 401
    response = github.http.get("/api/v3/user", headers={"Authorization": "token gho_forged"})
    assert response.status_code == 401 and response.json()["message"] == "Bad credentials"


def test_token_scheme_is_accepted_too(github: Served) -> None:
    token = github_token(github)["access_token"]
    assert github.http.get("/api/v3/user", headers={"Authorization": f"token {token}"}).status_code == 200


def test_etag_gives_304_which_does_not_count(github: Served, auth: dict[str, str]) -> None:
    github.http.post(REPO + "/issues", json={"title": "t"}, headers=auth)
    first = github.http.get(REPO + "/issues/1", headers=auth)
    etag = first.headers["etag"]
    again = github.http.get(REPO + "/issues/1", headers=auth | {"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    github.http.patch(REPO + "/issues/1", json={"title": "changed"}, headers=auth)
    changed = github.http.get(REPO + "/issues/1", headers=auth | {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_rate_limit_headers_and_budget(github: Served, auth: dict[str, str]) -> None:
    github.control("PUT", "/ratelimit", json={"limit": 3, "reset": True})
    seen = [github.http.get("/api/v3/user", headers=auth) for _ in range(4)]
    assert [r.headers["x-ratelimit-remaining"] for r in seen] == ["2", "1", "0", "0"]
    assert [r.status_code for r in seen] == [200, 200, 200, 403]
    assert seen[-1].headers["x-ratelimit-resource"] == "core"
    assert int(seen[-1].headers["x-ratelimit-reset"]) > 0
    assert "rate limit exceeded" in seen[-1].json()["message"]


def test_list_pagination_with_link_header(github: Served, auth: dict[str, str]) -> None:
    for n in range(5):
        github.http.post(REPO + "/issues", json={"title": f"issue {n}"}, headers=auth)
    github.control(
        "POST", "/repos/acme/widgets/issues", json={"title": "a pull request", "pull_request": True}
    )
    page1 = github.http.get(REPO + "/issues", params={"per_page": 2, "direction": "asc"}, headers=auth)
    assert [i["number"] for i in page1.json()] == [1, 2]
    assert 'rel="next"' in page1.headers["link"] and 'rel="last"' in page1.headers["link"]
    numbers = []
    url: str | None = str(page1.url)
    while url:
        page = github.http.get(url, headers=auth)
        numbers += [i["number"] for i in page.json()]
        links = {
            part.split('rel="')[1][:-1]: part.split(";")[0].strip("<> ")
            for part in page.headers.get("link", "").split(", ")
            if part
        }
        url = links.get("next")
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert len(github.http.get(REPO + "/issues", headers=auth).json()) == 6
    assert "link" not in github.http.get(REPO + "/issues", headers=auth).headers
    pulls = [i for i in github.http.get(REPO + "/issues", headers=auth).json() if "pull_request" in i]
    assert [p["number"] for p in pulls] == [6]


def test_list_filters_by_state(github: Served, auth: dict[str, str]) -> None:
    github.http.post(REPO + "/issues", json={"title": "open one"}, headers=auth)
    github.http.post(REPO + "/issues", json={"title": "closed one"}, headers=auth)
    github.http.patch(REPO + "/issues/2", json={"state": "closed"}, headers=auth)
    assert [i["number"] for i in github.http.get(REPO + "/issues", headers=auth).json()] == [1]
    closed = github.http.get(REPO + "/issues", params={"state": "closed"}, headers=auth).json()
    assert [i["number"] for i in closed] == [2]
    assert len(github.http.get(REPO + "/issues", params={"state": "all"}, headers=auth).json()) == 2


def test_comments(github: Served, auth: dict[str, str]) -> None:
    github.http.post(REPO + "/issues", json={"title": "t"}, headers=auth)
    created = github.http.post(
        REPO + "/issues/1/comments", json={"body": "linked from Conduit"}, headers=auth
    )
    assert created.status_code == 201 and created.json()["body"] == "linked from Conduit"
    listed = github.http.get(REPO + "/issues/1/comments", headers=auth).json()
    assert [c["body"] for c in listed] == ["linked from Conduit"]
    assert github.http.get(REPO + "/issues/1", headers=auth).json()["comments"] == 1


def test_search_issues(github: Served, auth: dict[str, str]) -> None:
    github.http.post(REPO + "/issues", json={"title": "Database timeout"}, headers=auth)
    github.http.post(REPO + "/issues", json={"title": "UI glitch"}, headers=auth)
    github.http.patch(REPO + "/issues/2", json={"state": "closed"}, headers=auth)
    found = github.http.get(
        "/api/v3/search/issues", params={"q": "repo:acme/widgets is:open timeout"}, headers=auth
    )
    assert found.json()["total_count"] == 1 and found.json()["items"][0]["number"] == 1
    closed = github.http.get(
        "/api/v3/search/issues", params={"q": "repo:acme/widgets is:closed"}, headers=auth
    )
    assert [i["number"] for i in closed.json()["items"]] == [2]
    bad = github.http.get(
        "/api/v3/search/issues", params={"q": "repo:acme/widgets weird:thing"}, headers=auth
    )
    assert bad.status_code == 422 and "weird:thing" in bad.json()["errors"][0]["message"]


def test_search_users_by_public_email(github: Served, auth: dict[str, str]) -> None:
    github.control("POST", "/users", json={"login": "shy", "email": "shy@example.com", "public_email": False})

    def logins(q: str) -> list[str]:
        reply = github.http.get("/api/v3/search/users", params={"q": q}, headers=auth)
        assert reply.status_code == 200, reply.text
        return [u["login"] for u in reply.json()["items"]]

    assert logins("hubot@example.com in:email") == ["hubot"]
    assert logins("shy@example.com in:email") == []
    assert logins("example.com in:email") == []
    assert logins("mona in:login") == ["monalisa"]
