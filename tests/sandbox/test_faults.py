"""Fault injection, the same on both sandboxes: latency, 5xx, 429, timeouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import Served, bearer, gh_auth, github_token, jira_token, poll


@pytest.fixture(params=["github", "jira"])
def tracker(request: pytest.FixtureRequest) -> tuple[Served, Callable[[], httpx.Response]]:
    """A served sandbox and a call to one of its authenticated endpoints."""
    served: Served = request.getfixturevalue(request.param)
    if request.param == "github":
        headers = gh_auth(github_token(served)["access_token"])
        path = "/api/v3/user"
    else:
        headers = bearer(jira_token(served)["access_token"])
        path = "/rest/api/3/myself"
    return served, lambda: served.http.get(path, headers=headers)


def test_latency_is_applied_and_logged(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, call = tracker
    served.control("POST", "/faults", json={"kind": "latency", "ms": 50, "count": 1})
    assert call().status_code == 200
    assert call().status_code == 200
    delays = [c["delay_ms"] for c in served.control("GET", "/calls")["calls"][-2:]]
    assert delays == [50, 0]


def test_server_errors_for_the_next_calls(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, call = tracker
    served.control("POST", "/faults", json={"kind": "error", "status": 502, "count": 2})
    assert [call().status_code for _ in range(3)] == [502, 502, 200]
    assert served.control("GET", "/faults")["faults"] == []
    assert served.control("GET", "/calls")["by_status"]["502"] == 2


def test_error_for_a_fraction_of_calls(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, call = tracker
    served.control("POST", "/faults", json={"kind": "error", "fraction": 0.5})
    statuses = [call().status_code for _ in range(40)]
    assert 0 < statuses.count(503) < 40 and set(statuses) == {200, 503}


def test_rate_limited_with_retry_after(tracker: tuple[Served, Callable[[], httpx.Response]]) -> None:
    served, call = tracker
    served.control("POST", "/faults", json={"kind": "rate_limit", "retry_after": 7, "count": 1})
    limited = call()
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    if served.sandbox.name == "github":
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) >= int(served.sandbox.clock.time()) + 6
        assert "documentation_url" in limited.json()
    else:
        assert limited.headers["x-ratelimit-reset"].endswith("Z")
        assert limited.json()["errorMessages"]
    assert call().status_code == 200


def test_timeout_holds_the_request_past_the_client_timeout(
    tracker: tuple[Served, Callable[[], httpx.Response]],
) -> None:
    served, _ = tracker
    served.control("POST", "/faults", json={"kind": "timeout", "seconds": 30, "count": 1})
    path = "/api/v3/user" if served.sandbox.name == "github" else "/rest/api/3/myself"
    with pytest.raises(httpx.ReadTimeout):
        served.http.get(path, timeout=0.3)

    def logged() -> Any:
        return [c for c in served.control("GET", "/calls")["calls"] if c["fault"] == "timeout"]

    # The sandbox notices the client gave up and logs the call as closed by the client.
    assert [c["status"] for c in poll(logged)] == [499]


def test_match_limits_a_fault_to_some_endpoints(github: Served) -> None:
    auth = gh_auth(github_token(github)["access_token"])
    github.control("POST", "/faults", json={"kind": "error", "match": "issues.create"})
    assert github.http.get("/api/v3/user", headers=auth).status_code == 200
    assert (
        github.http.post("/api/v3/repos/acme/widgets/issues", json={"title": "x"}, headers=auth).status_code
        == 503
    )
    github.control("DELETE", "/faults")
    assert (
        github.http.post("/api/v3/repos/acme/widgets/issues", json={"title": "x"}, headers=auth).status_code
        == 201
    )


def test_bad_fault_descriptions_are_refused_with_a_reason(github: Served) -> None:
    for body, words in [
        ({"kind": "earthquake"}, "kind"),
        ({"kind": "error", "status": 404}, "5xx"),
        ({"kind": "latency"}, "ms"),
        ({"kind": "error", "count": 0}, "count"),
        ({"kind": "error", "fraction": 2}, "fraction"),
        ({"kind": "error", "colour": "red"}, "colour"),
    ]:
        response = github.http.post("/_sandbox/faults", json=body)
        assert response.status_code == 400 and words in response.json()["error"], body


def test_control_endpoints_are_never_faulted(github: Served) -> None:
    github.control("POST", "/faults", json={"kind": "error"})
    assert github.http.get("/_sandbox/calls").status_code == 200
