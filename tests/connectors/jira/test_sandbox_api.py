"""Jira sandbox REST v3: ADF issues, workflows and transitions, assignee, comments, JQL search, users."""

from __future__ import annotations

from typing import Any

import pytest

from tests.connectors.jira.conftest import jira_token
from tests.connectors.sandbox.serving import Served, bearer

API = "/rest/api/3"


def doc(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@pytest.fixture
def auth(jira: Served) -> dict[str, str]:
    return bearer(jira_token(jira)["access_token"])


def create(jira: Served, auth: dict[str, str], summary: str = "Boom", project: str = "OPS") -> dict[str, Any]:
    fields = {
        "project": {"key": project},
        "issuetype": {"name": "Bug"},
        "summary": summary,
        "description": doc("trace"),
    }
    response = jira.http.post(API + "/issue", json={"fields": fields}, headers=auth)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_create_and_get_an_issue(jira: Served, auth: dict[str, str]) -> None:
    created = create(jira, auth)
    assert created["key"] == "OPS-1" and created["self"].endswith(f"/issue/{created['id']}")
    issue = jira.http.get(f"{API}/issue/OPS-1", headers=auth).json()
    fields = issue["fields"]
    assert fields["summary"] == "Boom" and fields["description"] == doc("trace")
    assert fields["status"]["name"] == "To Do" and fields["status"]["statusCategory"]["key"] == "new"
    assert fields["issuetype"]["name"] == "Bug" and fields["reporter"]["emailAddress"] == "alice@example.com"
    by_id = jira.http.get(f"{API}/issue/{created['id']}", params={"fields": "summary"}, headers=auth).json()
    assert by_id["key"] == "OPS-1" and set(by_id["fields"]) == {"summary"}


def test_create_validation_errors(jira: Served, auth: dict[str, str]) -> None:
    missing = jira.http.post(API + "/issue", json={"fields": {"project": {"key": "NOPE"}}}, headers=auth)
    assert missing.status_code == 400
    assert (
        set(missing.json()["errors"]) == {"project", "summary", "issuetype"}
        and missing.json()["errorMessages"] == []
    )
    plain = {
        "project": {"key": "OPS"},
        "issuetype": {"id": "10001"},
        "summary": "x",
        "description": "plain text",
    }
    not_adf = jira.http.post(API + "/issue", json={"fields": plain}, headers=auth)
    assert not_adf.status_code == 400 and "description" in not_adf.json()["errors"]
    wrong_doc = plain | {"description": {"type": "doc", "version": 2, "content": []}}
    assert jira.http.post(API + "/issue", json={"fields": wrong_doc}, headers=auth).status_code == 400


def test_edit_returns_204_and_bumps_updated(jira: Served, auth: dict[str, str]) -> None:
    create(jira, auth)
    before = jira.http.get(f"{API}/issue/OPS-1", headers=auth).json()["fields"]["updated"]
    response = jira.http.put(f"{API}/issue/OPS-1", json={"fields": {"summary": "Renamed"}}, headers=auth)
    assert response.status_code == 204
    after = jira.http.get(f"{API}/issue/OPS-1", headers=auth).json()["fields"]
    assert after["summary"] == "Renamed" and after["updated"] > before
    status = jira.http.put(f"{API}/issue/OPS-1", json={"fields": {"status": {"name": "Done"}}}, headers=auth)
    assert status.status_code == 400 and "status" in status.json()["errors"]


def test_transitions_move_through_the_workflow(jira: Served, auth: dict[str, str]) -> None:
    create(jira, auth)
    listed = jira.http.get(f"{API}/issue/OPS-1/transitions", headers=auth).json()["transitions"]
    assert [t["to"]["name"] for t in listed] == ["In Progress", "Done"]
    assert all(t["id"] != t["to"]["id"] for t in listed)
    done = next(t for t in listed if t["to"]["statusCategory"]["key"] == "done")
    moved = jira.http.post(
        f"{API}/issue/OPS-1/transitions", json={"transition": {"id": done["id"]}}, headers=auth
    )
    assert moved.status_code == 204
    fields = jira.http.get(f"{API}/issue/OPS-1", headers=auth).json()["fields"]
    assert (
        fields["status"]["name"] == "Done"
        and fields["resolution"]["name"] == "Done"
        and fields["resolutiondate"]
    )
    again = jira.http.post(
        f"{API}/issue/OPS-1/transitions", json={"transition": {"id": done["id"]}}, headers=auth
    )
    assert again.status_code == 400 and "not valid" in again.json()["errorMessages"][0]
    unknown = jira.http.post(
        f"{API}/issue/OPS-1/transitions", json={"transition": {"id": "999"}}, headers=auth
    )
    assert unknown.status_code == 400


def test_custom_workflow_with_several_done_statuses(jira: Served, auth: dict[str, str]) -> None:
    workflow = [
        {"name": "Open", "category": "new"},
        {"name": "Doing", "category": "indeterminate"},
        {"name": "Done", "category": "done"},
        {"name": "Won't Do", "category": "done"},
    ]
    project = jira.control("POST", "/projects", json={"key": "SUP", "workflow": workflow})
    assert [s["name"] for s in project["statuses"]] == ["Open", "Doing", "Done", "Won't Do"]
    create(jira, auth, project="SUP")
    listed = jira.http.get(f"{API}/issue/SUP-1/transitions", headers=auth).json()["transitions"]
    done_like = [t["to"]["name"] for t in listed if t["to"]["statusCategory"]["key"] == "done"]
    assert done_like == ["Done", "Won't Do"]
    wont = next(t for t in listed if t["to"]["name"] == "Won't Do")
    jira.http.post(f"{API}/issue/SUP-1/transitions", json={"transition": {"id": wont["id"]}}, headers=auth)
    assert jira.http.get(f"{API}/issue/SUP-1", headers=auth).json()["fields"]["status"]["name"] == "Won't Do"
    statuses = jira.http.get(f"{API}/project/SUP/statuses", headers=auth).json()
    assert {s["name"] for s in statuses[0]["statuses"]} == {"Open", "Doing", "Done", "Won't Do"}


def test_assignee_and_users(jira: Served, auth: dict[str, str]) -> None:
    create(jira, auth)
    hidden = jira.control(
        "POST", "/users", json={"displayName": "Dan Private", "email": "dan@example.com", "hide_email": True}
    )
    found = jira.http.get(f"{API}/user/search", params={"query": "dan@example.com"}, headers=auth).json()
    assert [u["accountId"] for u in found] == [hidden["accountId"]] and "emailAddress" not in found[0]
    bob = jira.http.get(f"{API}/user/search", params={"query": "bob@example.com"}, headers=auth).json()[0]
    assert bob["emailAddress"] == "bob@example.com"
    response = jira.http.put(
        f"{API}/issue/OPS-1/assignee", json={"accountId": bob["accountId"]}, headers=auth
    )
    assert response.status_code == 204
    assignee = jira.http.get(f"{API}/issue/OPS-1", headers=auth).json()["fields"]["assignee"]
    assert assignee["accountId"] == bob["accountId"]
    ghost = jira.http.put(f"{API}/issue/OPS-1/assignee", json={"accountId": "nobody"}, headers=auth)
    assert ghost.status_code == 404
    jira.http.put(f"{API}/issue/OPS-1/assignee", json={"accountId": None}, headers=auth)
    assert jira.http.get(f"{API}/issue/OPS-1", headers=auth).json()["fields"]["assignee"] is None


def test_comments_are_adf(jira: Served, auth: dict[str, str]) -> None:
    create(jira, auth)
    added = jira.http.post(f"{API}/issue/OPS-1/comment", json={"body": doc("linked")}, headers=auth)
    assert added.status_code == 201 and added.json()["body"] == doc("linked")
    plain = jira.http.post(f"{API}/issue/OPS-1/comment", json={"body": "linked"}, headers=auth)
    assert plain.status_code == 400
    listed = jira.http.get(f"{API}/issue/OPS-1/comment", headers=auth).json()
    assert listed["total"] == 1


def test_search_jql_pages_with_next_page_token(jira: Served, auth: dict[str, str]) -> None:
    for n in range(5):
        create(jira, auth, summary=f"issue {n}")
    keys: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, str | int] = {
            "jql": "project = OPS ORDER BY key ASC",
            "maxResults": 2,
            "fields": "summary,status",
        }
        if token:
            params["nextPageToken"] = token
        page = jira.http.get(f"{API}/search/jql", params=params, headers=auth).json()
        pages += 1
        keys += [i["key"] for i in page["issues"]]
        if page["isLast"]:
            break
        token = page["nextPageToken"]
    assert keys == ["OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5"] and pages == 3
    posted = jira.http.post(
        f"{API}/search/jql", json={"jql": "key in (OPS-2, OPS-4)", "fields": ["status"]}, headers=auth
    ).json()
    assert sorted(i["key"] for i in posted["issues"]) == ["OPS-2", "OPS-4"] and posted["isLast"]
    assert set(posted["issues"][0]["fields"]) == {"status"}


def test_search_jql_filters_and_errors(jira: Served, auth: dict[str, str]) -> None:
    create(jira, auth, summary="database timeout")
    create(jira, auth, summary="ui glitch")
    jira.control("POST", "/issues/OPS-2/transition", json={"to": "Done"})
    done = jira.http.get(
        f"{API}/search/jql", params={"jql": "project = OPS AND statusCategory = done"}, headers=auth
    )
    assert [i["key"] for i in done.json()["issues"]] == ["OPS-2"]
    text = jira.http.get(f"{API}/search/jql", params={"jql": 'summary ~ "timeout"'}, headers=auth)
    assert [i["key"] for i in text.json()["issues"]] == ["OPS-1"]
    recent = jira.http.get(
        f"{API}/search/jql", params={"jql": "project = OPS AND updated >= -5m"}, headers=auth
    )
    assert len(recent.json()["issues"]) == 2
    bad = jira.http.get(f"{API}/search/jql", params={"jql": "colour = red"}, headers=auth)
    assert bad.status_code == 400 and "colour" in bad.json()["errorMessages"][0]
    unbounded = jira.http.get(f"{API}/search/jql", headers=auth)
    assert unbounded.status_code == 400


def test_unknown_and_deleted_issues_are_404(jira: Served, auth: dict[str, str]) -> None:
    assert jira.http.get(f"{API}/issue/OPS-99", headers=auth).status_code == 404
    create(jira, auth)
    jira.control("DELETE", "/issues/OPS-1")
    gone = jira.http.get(f"{API}/issue/OPS-1", headers=auth)
    assert gone.status_code == 404 and gone.json()["errorMessages"]
