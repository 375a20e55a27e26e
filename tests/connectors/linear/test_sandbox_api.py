"""The Linear sandbox's GraphQL endpoint answers as Linear does: errors in its shapes and statuses,
rate-limit headers, Relay pages, identifiers and UUIDs, and operations named in the call log."""

from __future__ import annotations

from conduit.connectors.linear import graphql
from tests.connectors.linear.conftest import gql, linear_token
from tests.connectors.sandbox.serving import Served

CREATE = "mutation($t: String!, $title: String!) { issueCreate(input: {teamId: $t, title: $title}) { issue { id identifier } } }"


def _issue(served: Served, token: str, title: str = "Boom") -> dict[str, str]:
    team = served.sandbox.teams["ENG"].id
    reply = gql(served, token, CREATE, t=team, title=title)
    assert reply.status_code == 200, reply.text
    issue: dict[str, str] = reply.json()["data"]["issueCreate"]["issue"]
    return issue


def _code(reply: object) -> str:
    return str(reply.json()["errors"][0]["extensions"]["code"])  # type: ignore[attr-defined]


def test_refused_token_is_a_401_with_an_authentication_error(linear: Served) -> None:
    reply = gql(linear, "not-a-token", graphql.VIEWER)
    assert reply.status_code == 401 and _code(reply) == "AUTHENTICATION_ERROR"
    assert reply.json()["errors"][0]["extensions"]["type"] == "authentication error"


def test_documents_that_do_not_parse_or_validate_are_400s(linear: Served) -> None:
    token = linear_token(linear)["access_token"]
    broken = gql(linear, token, "query { viewer { id ")
    assert broken.status_code == 400 and _code(broken) == "GRAPHQL_PARSE_FAILED"
    unknown = gql(linear, token, "query { viewer { id favouriteColour } }")
    assert unknown.status_code == 400 and _code(unknown) == "GRAPHQL_VALIDATION_FAILED"
    assert "favouriteColour" in unknown.json()["errors"][0]["message"]
    wrong_type = gql(linear, token, "query($id: String!) { issue(id: $id) { id } }", id=42)
    assert wrong_type.status_code == 400 and _code(wrong_type) == "GRAPHQL_VALIDATION_FAILED"
    assert (
        linear.http.post("/graphql", content=b"{", headers={"Authorization": f"Bearer {token}"}).status_code
        == 400
    )


def test_a_missing_issue_is_an_error_inside_a_200(linear: Served) -> None:
    token = linear_token(linear)["access_token"]
    reply = gql(linear, token, graphql.ISSUE_GET, id="ENG-999")
    assert reply.status_code == 200
    body = reply.json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["message"] == "Entity not found: Issue" and error["path"] == ["issue"]
    assert error["extensions"]["code"] == "INPUT_ERROR"
    assert error["extensions"]["userPresentableMessage"] == "Could not find referenced Issue."


def test_issues_read_by_identifier_or_uuid_and_by_an_old_identifier(linear: Served) -> None:
    token = linear_token(linear)["access_token"]
    made = _issue(linear, token)
    by_uuid = gql(linear, token, graphql.ISSUE_GET, id=made["id"]).json()["data"]["issue"]
    by_key = gql(linear, token, graphql.ISSUE_GET, id=made["identifier"].lower()).json()["data"]["issue"]
    assert by_uuid == by_key and by_key["identifier"] == "ENG-1"
    assert by_key["url"].startswith(f"{linear.url}/sandbox/issue/ENG-1/")
    linear.control("POST", "/teams", json={"key": "OPS"})
    moved = linear.control("POST", "/issues/ENG-1/move", json={"team": "OPS"})["issue"]
    assert moved["identifier"] == "OPS-1" and moved["previousIdentifiers"] == ["ENG-1"]
    again = gql(linear, token, graphql.ISSUE_GET, id="ENG-1").json()["data"]["issue"]
    assert (again["id"], again["identifier"]) == (made["id"], "OPS-1")


def test_relay_pages_and_filters(linear: Served) -> None:
    token = linear_token(linear)["access_token"]
    for n in range(5):
        _issue(linear, token, f"Page {n}")
    seen: list[str] = []
    after = None
    for _ in range(5):
        variables = {"filter": {"team": {"key": {"eq": "ENG"}}}, "first": 2, "after": after}
        page = gql(linear, token, graphql.ISSUES, **variables).json()["data"]["issues"]
        seen += [n["identifier"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == [f"ENG-{n}" for n in range(1, 6)]
    by_number = {"or": [{"team": {"key": {"eq": "ENG"}}, "number": {"in": [2, 4]}}]}
    picked = gql(linear, token, graphql.ISSUES, filter=by_number, first=10).json()["data"]["issues"]["nodes"]
    assert sorted(n["identifier"] for n in picked) == ["ENG-2", "ENG-4"]
    found = gql(linear, token, graphql.SEARCH, term="page 3", filter={}, first=5).json()["data"]
    assert [n["identifier"] for n in found["searchIssues"]["nodes"]] == ["ENG-4"]


def test_every_answer_carries_the_budget_and_a_spent_one_is_ratelimited(linear: Served) -> None:
    token = linear_token(linear)["access_token"]
    ok = gql(linear, token, graphql.VIEWER)
    assert ok.status_code == 200
    assert int(ok.headers["x-ratelimit-requests-reset"]) > 10**12  # epoch milliseconds
    assert int(ok.headers["x-ratelimit-requests-remaining"]) < int(ok.headers["x-ratelimit-requests-limit"])
    assert int(ok.headers["x-complexity"]) >= 1
    linear.control("PUT", "/rate-limits", json={"remaining": 0})
    limited = gql(linear, token, graphql.VIEWER)
    assert limited.status_code == 400 and _code(limited) == "RATELIMITED"
    assert limited.headers["x-ratelimit-requests-remaining"] == "0"
    linear.control("PUT", "/rate-limits", json={"status": 200})
    inside = gql(linear, token, graphql.VIEWER)
    assert inside.status_code == 200 and _code(inside) == "RATELIMITED"
    linear.control("PUT", "/rate-limits", json={"remaining": 10, "status": 400})
    assert gql(linear, token, graphql.VIEWER).status_code == 200


def test_a_missing_scope_is_forbidden_inside_a_200(linear: Served) -> None:
    token = linear_token(linear, scope="read")["access_token"]
    reply = gql(linear, token, CREATE, t=linear.sandbox.teams["ENG"].id, title="No")
    assert reply.status_code == 200 and _code(reply) == "FORBIDDEN"
    assert not linear.sandbox.issues


def test_attachments_are_one_per_url(linear: Served) -> None:
    token = linear_token(linear)["access_token"]
    made = _issue(linear, token)
    link = {"issueId": made["id"], "url": "http://conduit.test/issues/1", "title": "Conduit issue"}
    first = gql(linear, token, graphql.ATTACHMENT_CREATE, input=link).json()["data"]["attachmentCreate"]
    second = gql(linear, token, graphql.ATTACHMENT_CREATE, input=link | {"title": "Renamed"}).json()["data"]
    assert first["attachment"]["id"] == second["attachmentCreate"]["attachment"]["id"]
    state = linear.control("GET", "/state")
    assert [a["title"] for a in state["issues"][0]["attachments"]] == ["Renamed"]


def test_calls_and_faults_know_operations_by_name(linear: Served) -> None:
    token = linear_token(linear)["access_token"]
    made = _issue(linear, token)
    linear.control("DELETE", "/calls")
    linear.control("POST", "/faults", json={"kind": "error", "status": 502, "match": "IssueGet", "count": 1})
    assert gql(linear, token, graphql.VIEWER).status_code == 200
    failed = gql(linear, token, graphql.ISSUE_GET, id=made["id"])
    assert failed.status_code == 502 and _code(failed) == "INTERNAL_SERVER_ERROR"
    assert gql(linear, token, graphql.ISSUE_GET, id=made["id"]).status_code == 200
    routes = linear.control("GET", "/calls")["by_route"]
    assert routes == {"Viewer": 1, "IssueGet": 2}
