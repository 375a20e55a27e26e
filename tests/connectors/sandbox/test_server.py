"""Serving a sandbox: in a background thread or as a task in the running loop."""

from __future__ import annotations

import httpx
import pytest

from conduit.connectors.github.sandbox import GitHubSandbox
from conduit.connectors.jira.sandbox import JiraSandbox
from conduit.connectors.sandbox import SandboxServer


def test_thread_server_serves_and_stops() -> None:
    sandbox = JiraSandbox()
    with SandboxServer(sandbox) as server:
        assert sandbox.url == server.url
        state = httpx.get(server.url + "/_sandbox/state").json()
        assert [p["key"] for p in state["projects"]] == ["OPS"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/_sandbox/state")


async def test_async_server_runs_in_the_current_loop() -> None:
    sandbox = GitHubSandbox(repos=("octo/one", "octo/two"))
    async with SandboxServer(sandbox) as server, httpx.AsyncClient(base_url=server.url) as client:
        state = (await client.get("/_sandbox/state")).json()
        assert [r["full_name"] for r in state["repos"]] == ["octo/one", "octo/two"]
        assert state["repos"][0]["html_url"] == f"{server.url}/octo/one"


def test_same_calls_give_the_same_ids_on_a_fresh_sandbox() -> None:
    def run() -> list[str]:
        sandbox = JiraSandbox()
        with SandboxServer(sandbox) as server, httpx.Client(base_url=server.url) as http:
            keys = [http.post("/_sandbox/issues", json={"project": "OPS", "summary": s}).json() for s in "ab"]
            return [k["issue"]["id"] for k in keys] + [sandbox.cloud_id]

    assert run() == run()
