"""The GitLab connector against its sandbox over real HTTP: what the shared contract cannot say —
moved issues followed to their new key, batched reads, the stable id, revocation."""

from __future__ import annotations

from dataclasses import replace

import httpx

from conduit.connectors import Connectors, StatusCategory, TicketDraft
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.connectors.conftest import Tracker, install, interactions

DRAFT = TicketDraft(title="KeyError: 'user'", summary="", issue_url="http://testserver/issues/7")


async def test_a_moved_issue_is_followed_to_its_new_key(
    runtime: Runtime, connectors: Connectors, trackers: dict[str, Tracker], tenant: Tenant
) -> None:
    tracker = trackers["gitlab"]
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    created = await connector.create_ticket("acme/widgets", DRAFT)
    assert created.tracker_id and created.key.startswith("acme/widgets#")
    async with tracker.control() as c:
        moved = await c.post("/tickets/move", json={"key": created.key, "scope": "acme/platform/api"})
    assert moved.status_code == 200, moved.text
    new_key = moved.json()["key"]
    assert new_key == moved.json()["ticket"]["references"]["full"]

    followed = await connector.get_ticket(created.key, known=created)
    assert followed.key == new_key and followed.status_category is StatusCategory.OPEN
    assert followed.tracker_id == str(moved.json()["ticket"]["id"])
    # A batch read answers under the key asked for, with the record of where the issue is now.
    other = await connector.create_ticket("acme/widgets", DRAFT)
    many = await connector.get_tickets([created.key, other.key])
    assert many[created.key].key == new_key and many[other.key].key == other.key
    operations = [r.operation for r in await interactions(runtime, connector.api.target.installation_id)]
    assert "ticket.moved_to" in operations


async def test_many_tickets_of_a_project_cost_one_call(
    runtime: Runtime, connectors: Connectors, trackers: dict[str, Tracker], tenant: Tenant
) -> None:
    tracker = trackers["gitlab"]
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    keys = [(await connector.create_ticket("acme/platform/api", DRAFT)).key for _ in range(3)]
    await tracker.person("delete", keys[0])
    before = len(await interactions(runtime, connector.api.target.installation_id))
    records = await connector.get_tickets(keys)
    rows = (await interactions(runtime, connector.api.target.installation_id))[before:]
    # One listing for the project, one read for the key it left out (deleted: a 404).
    assert [r.operation for r in rows] == ["ticket.get_many", "ticket.get"]
    assert records[keys[0]].deleted and not records[keys[1]].deleted
    assert records[keys[2]].tracker_id


async def test_uninstalling_revokes_the_token(
    runtime: Runtime, connectors: Connectors, trackers: dict[str, Tracker], tenant: Tenant
) -> None:
    tracker = trackers["gitlab"]
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    token = await connectors.credentials.access_token(connector.api.target.installation_id)
    assert token and await connector.revoke(token)
    async with httpx.AsyncClient(base_url=tracker.url) as http:
        reply = await http.get("/api/v4/user", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 401


async def test_a_comments_ticket_is_read_for_its_assignees_handle(
    runtime: Runtime, connectors: Connectors, trackers: dict[str, Tracker], tenant: Tenant
) -> None:
    """A Note Hook names assignees by id only; the ticket applied with the comment is read again."""
    tracker = trackers["gitlab"]
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    created = await connector.create_ticket("acme/widgets", DRAFT)
    account = await connector.find_user(tracker.assignee_email)
    assert account is not None
    assigned = await connector.assign(created.key, account)
    partial = replace(assigned, assignee=None)
    read = await connector.webhook_ticket(partial)
    assert (read.assignee, read.assignee_id) == ("grace", account)
    # A ticket that names its assignee's handle (an Issue Hook's) is taken as it is.
    assert await connector.webhook_ticket(assigned) is assigned
