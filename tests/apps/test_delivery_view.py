"""A delivery seen from both sides: the app's owner sees its endpoint and what it answered; an
organization that installed the app sees its own side only (which event, outcome, timing, attempts)."""

from __future__ import annotations

from conduit.runtime import Runtime
from tests.apps.conftest import GQL, wait_for
from tests.apps.helpers import emit_issue, issue_app, name
from tests.apps.receiver import Receiver
from tests.conftest import Tenant

FIELDS = """eventType outcome attemptCount createdAt finishedAt lastStatusCode lastError
  attempts { number startedAt durationMs outcome url statusCode responseExcerpt error }"""
OWNER = "query($id: ID!) { app(id: $id) { deliveries { nodes { FIELDS } } } }".replace("FIELDS", FIELDS)
INSTALLER = "{ appInstallations { id deliveries { nodes { FIELDS } } } }".replace("FIELDS", FIELDS)


async def test_an_installer_sees_its_side_only(
    jobs_runtime: Runtime, gql: GQL, receiver: Receiver, tenant: Tenant, tenant2: Tenant
) -> None:
    ep = name()
    url = receiver.url(ep)
    app = await gql.create_app(tenant.token, **issue_app(url))
    install = await gql.install(tenant2.token, app["app"]["id"])
    await emit_issue(jobs_runtime, tenant2.organization_id, tenant2.project_id)

    async def logged() -> bool:
        data = await gql(tenant.token, OWNER, {"id": app["app"]["id"]})
        nodes = data["app"]["deliveries"]["nodes"]
        return len(nodes) == 2 and all(n["outcome"] == "SUCCEEDED" and n["attempts"] for n in nodes)

    await wait_for(logged, 30, "both deliveries answered and logged")

    owner = (await gql(tenant.token, OWNER, {"id": app["app"]["id"]}))["app"]["deliveries"]["nodes"]
    assert {n["eventType"] for n in owner} == {"installation.created", "issue.created"}
    for n in owner:
        assert n["lastStatusCode"] == 200
        assert [(a["url"], a["statusCode"], a["responseExcerpt"]) for a in n["attempts"]] == [
            (url, 200, "ok")
        ]

    installed = await gql(tenant2.token, INSTALLER)
    mine = next(i for i in installed["appInstallations"] if i["id"] == install["installation"]["id"])
    nodes = mine["deliveries"]["nodes"]
    assert {n["eventType"] for n in nodes} == {"installation.created", "issue.created"}
    for n in nodes:
        # Its side: which event, the outcome, when, how many tries.
        assert (n["outcome"], n["attemptCount"]) == ("SUCCEEDED", 1)
        assert n["createdAt"] and n["finishedAt"]
        (attempt,) = n["attempts"]
        assert attempt["number"] == 1 and attempt["startedAt"] and attempt["outcome"] == "success"
        assert attempt["durationMs"] >= 0
        # The app's side: its endpoint and what it answered.
        assert (n["lastStatusCode"], n["lastError"]) == (None, None)
        assert (attempt["url"], attempt["statusCode"], attempt["responseExcerpt"], attempt["error"]) == (
            None,
            None,
            None,
            None,
        )
