"""Faults limited to some of the GitHub sandbox's endpoints by `match`."""

from __future__ import annotations

from tests.connectors.github.conftest import gh_auth, github_token
from tests.connectors.sandbox.serving import Served


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
