"""Webhooks in: forged, unsigned, malformed and replayed deliveries are refused or change nothing;
another organization can neither see nor use an installation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from conduit.ids import encode
from conduit.sync.inbound import UNVERIFIED
from tests.conftest import Tenant
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import create_ticket, idle
from tests.sync.hooks import github_signature, hook, jira_bearer, jira_claims, post


@pytest.mark.parametrize("provider", ["github", "jira"])
async def test_bad_deliveries_change_nothing(conduit: Conduit, sides: dict[str, Side], provider: str) -> None:
    side = sides[provider]
    installed = await install(conduit, side)
    issue_id = await conduit.issue()
    ticket = await create_ticket(conduit, installed.gid, issue_id, side.scope)
    await wait_for(lambda: idle(conduit), "the queue to drain")
    # Capture a genuine delivery without letting it through.
    await side.fault(kind="drop_webhooks")
    try:
        [delivery_id] = (await side.act(ticket["key"], "close"))[-1:]
    finally:
        await side.clear_faults()
    genuine = await side.delivery(delivery_id)
    body = genuine["body"].encode()
    target = await hook(conduit, side, installed.id)
    path = target.path
    signature = "X-Hub-Signature-256" if provider == "github" else "Authorization"
    # A dropped delivery is recorded without headers: send it as the tracker does, with the real secrets.
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if provider == "github":
        headers |= {"X-GitHub-Event": genuine["event"], "X-GitHub-Delivery": genuine["guid"]}
    else:
        headers["X-Atlassian-Webhook-Identifier"] = genuine["guid"]
    headers[signature] = (
        github_signature(installed.webhook_secret, body)
        if provider == "github"
        else jira_bearer(jira_claims(target))
    )

    forged = dict(headers)
    forged[signature] = (
        github_signature("not-the-secret", body)
        if provider == "github"
        else jira_bearer(jira_claims(target), "x" * 40)
    )
    unsigned = {k: v for k, v in headers.items() if k not in (signature, "X-Hub-Signature")}
    tampered = body.replace(b"closed" if provider == "github" else b"Done", b"opened")
    refused: list[tuple[dict[str, str], bytes, int]] = [
        (forged, body, 401),
        (unsigned, body, 401),
        (headers, tampered, 401) if provider == "github" else (forged, tampered, 401),
    ]
    malformed = b'{"action": "closed", "issue": '
    if provider == "github":
        refused.append(
            ({**headers, signature: github_signature(installed.webhook_secret, malformed)}, malformed, 400)
        )
    else:
        refused.append((headers, malformed, 400))
    for sent_headers, sent_body, status in refused:
        reply = await post(conduit, path, sent_headers, sent_body)
        assert reply.status_code == status, (reply.status_code, reply.text)
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "unresolved"

    # The genuine one works once; the same delivery again is a duplicate.
    first = await post(conduit, path, headers, body)
    assert (first.status_code, first.json().get("status")) == (202, "queued"), first.text
    again = await post(conduit, path, headers, body)
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "resolved"

    # Reopened since; a replay of the old close under a new delivery id is not taken again.
    await conduit.set_status(issue_id, "UNRESOLVED")
    await wait_for(lambda: idle(conduit), "the queue to drain")
    id_header = "X-GitHub-Delivery" if provider == "github" else "X-Atlassian-Webhook-Identifier"
    replay = await post(conduit, path, {**headers, id_header: str(uuid.uuid4())}, body)
    assert (replay.status_code, replay.json()["status"]) == (202, "duplicate")
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "unresolved"
    assert [e["actor"]["type"] for e in await conduit.events("issue.resolved", issue_id)] == ["tracker"]

    # Another provider's path, or a token that does not exist: the answer every unverified call gets.
    other = "jira" if provider == "github" else "github"
    token = path.rsplit("/", 1)[1]
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (
        f"/hooks/{other}/{token}",
        f"/hooks/{provider}/{near}",
        f"/hooks/github/{installed.id}",
    ):
        reply = await post(conduit, wrong, headers, body)
        assert (reply.status_code, reply.json()) == (401, {"error": UNVERIFIED}), wrong


INSTALLATION = "query($id: ID!) { installation(id: $id) { id } }"
LINK = """mutation($issue: ID!, $inst: ID!) { linkExternalIssue(issueId: $issue, installationId: $inst, key: "OPS-1") {
  __typename } }"""
CREATE = """mutation($issue: ID!, $inst: ID!) {
  createExternalIssue(issueId: $issue, installationId: $inst, target: "OPS") { __typename } }"""
CONFIG = """mutation($inst: ID!) { updateInstallationConfig(installationId: $inst, config: {statusInbound: false}) {
  __typename } }"""
UNINSTALL = "mutation($inst: ID!) { uninstall(installationId: $inst) { __typename } }"


async def test_other_tenants_are_refused(conduit: Conduit, sides: dict[str, Side], tenant2: Tenant) -> None:
    installed = await install(conduit, sides["jira"])
    outsider = Conduit(conduit.runtime, conduit.url, tenant2)
    their_issue = await outsider.issue()
    our_issue = await conduit.issue()
    token = tenant2.token
    assert (await conduit.graphql(INSTALLATION, token=token, id=installed.gid))["installation"] is None
    for query, variables in (
        (LINK, {"issue": encode("Issue", their_issue), "inst": installed.gid}),
        (CREATE, {"issue": encode("Issue", their_issue), "inst": installed.gid}),
        (CONFIG, {"inst": installed.gid}),
        (UNINSTALL, {"inst": installed.gid}),
    ):
        data: dict[str, Any] = await conduit.graphql(query, token=token, **variables)
        assert next(iter(data.values()))["__typename"] == "NotFoundError", (query, data)
    # Nor may our installation be used on their issue by us: the issue is not ours to see.
    data = await conduit.graphql(CREATE, issue=encode("Issue", their_issue), inst=installed.gid)
    assert data["createExternalIssue"]["__typename"] == "NotFoundError"
    assert (await conduit.installation(installed.id)).config == {}
    assert our_issue != their_issue
