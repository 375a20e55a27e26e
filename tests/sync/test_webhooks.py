"""Webhooks in: forged, unsigned, malformed and replayed deliveries are refused or change nothing;
another organization can neither see nor use an installation."""

from __future__ import annotations

import uuid
from typing import Any

from conduit.connectors import TicketDraft, get_connectors
from conduit.ids import encode
from conduit.sync.inbound import UNVERIFIED
from tests.conftest import Tenant
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import create_ticket, idle
from tests.sync.hooks import hook


async def test_bad_deliveries_change_nothing(conduit: Conduit, sides: dict[str, Side], side: Side) -> None:
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
    body = genuine["body"]
    target = await hook(conduit, side, installed.id)

    # Sent by the tracker on request: forged, unsigned, altered, malformed.
    tampered = side.driver.tamper(body.encode()).decode()
    assert tampered != body
    refused: list[tuple[dict[str, Any], int]] = [
        ({"signature": "forged"}, 401),
        ({"signature": "none"}, 401),
        ({"signature": "forged", "body": tampered}, 401),
        ({"body": '{"action": "closed", "issue": '}, 400),
    ]
    if side.driver.signs_body:
        # Altered in transit under the signature of the genuine body.
        refused.append(({"body": tampered, "keep_signature": True}, 401))
    for options, status in refused:
        answer = await side.send(delivery_id, **options)
        assert answer[0] == status, (options, answer)
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "unresolved"

    # The genuine one works once; the same delivery again is a duplicate.
    assert await side.send(delivery_id) == (202, {"status": "queued"})
    status, answer = await side.send(delivery_id)
    assert (status, answer["status"]) == (202, "duplicate")
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "resolved"

    # Reopened since; a replay of the old close under a new delivery id is not taken again.
    await conduit.set_status(issue_id, "UNRESOLVED")
    await wait_for(lambda: idle(conduit), "the queue to drain")
    status, answer = await side.send(delivery_id, guid=str(uuid.uuid4()))
    assert (status, answer["status"]) == (202, "duplicate")
    await wait_for(lambda: idle(conduit), "the queue to drain")
    assert await conduit.issue_status(issue_id) == "unresolved"
    assert [e["actor"]["type"] for e in await conduit.events("issue.resolved", issue_id)] == ["tracker"]

    # Another provider's path, or a token that does not exist: the answer every unverified call gets.
    token = target.path.rsplit("/", 1)[1]
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    wrong = [f"/hooks/{other}/{token}" for other in sides if other != side.key]
    wrong += [f"/hooks/{side.key}/{near}", f"/hooks/{side.key}/{installed.id}"]
    for path in wrong:
        answer = await side.send(delivery_id, url=f"{conduit.url}{path}")
        assert answer == (401, {"error": UNVERIFIED}), path


INSTALLATION = "query($id: ID!) { installation(id: $id) { id } }"
LINK = """mutation($issue: ID!, $inst: ID!, $key: String!) {
  linkExternalIssue(issueId: $issue, installationId: $inst, key: $key) { __typename } }"""
CREATE = """mutation($issue: ID!, $inst: ID!, $target: String!) {
  createExternalIssue(issueId: $issue, installationId: $inst, target: $target) { __typename } }"""
CONFIG = """mutation($inst: ID!) { updateInstallationConfig(installationId: $inst, config: {statusInbound: false}) {
  __typename } }"""
UNINSTALL = "mutation($inst: ID!) { uninstall(installationId: $inst) { __typename } }"


async def test_other_tenants_are_refused(conduit: Conduit, side: Side, tenant2: Tenant) -> None:
    installed = await install(conduit, side)
    # A ticket that exists in the tracker, so only the tenant boundary can refuse the link.
    connector = await get_connectors(conduit.runtime).connector(installed.id)
    draft = TicketDraft(title="Theirs?", summary="", issue_url="http://x/issues/1")
    key = (await connector.create_ticket(side.scope, draft)).key
    outsider = Conduit(conduit.runtime, conduit.url, tenant2)
    their_issue = await outsider.issue()
    our_issue = await conduit.issue()
    token = tenant2.token
    assert (await conduit.graphql(INSTALLATION, token=token, id=installed.gid))["installation"] is None
    for query, variables in (
        (LINK, {"issue": encode("Issue", their_issue), "inst": installed.gid, "key": key}),
        (CREATE, {"issue": encode("Issue", their_issue), "inst": installed.gid, "target": side.scope}),
        (CONFIG, {"inst": installed.gid}),
        (UNINSTALL, {"inst": installed.gid}),
    ):
        data: dict[str, Any] = await conduit.graphql(query, token=token, **variables)
        assert next(iter(data.values()))["__typename"] == "NotFoundError", (query, data)
    # Nor may our installation be used on their issue by us: the issue is not ours to see.
    data = await conduit.graphql(
        CREATE, issue=encode("Issue", their_issue), inst=installed.gid, target=side.scope
    )
    assert data["createExternalIssue"]["__typename"] == "NotFoundError"
    assert (await conduit.installation(installed.id)).config == {}
    assert our_issue != their_issue
