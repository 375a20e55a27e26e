"""The controls every sandbox shares — a person at the tracker, the tracker sending a webhook — do the
same thing on every registered tracker, as its connector sees it."""

from __future__ import annotations

import uuid

from conduit.connectors import Connectors, StatusCategory, TicketDraft
from conduit.connectors.errors import NotFound
from conduit.runtime import Runtime
from tests.conftest import Tenant
from tests.connectors.conftest import Tracker, install

DRAFT = TicketDraft(title="Seen by a person", summary="", issue_url="http://testserver/issues/9")


async def test_a_person_closes_reopens_comments_assigns_and_deletes(
    runtime: Runtime, connectors: Connectors, tracker: Tracker, tenant: Tenant
) -> None:
    connector = (await install(runtime, connectors, tracker, tenant)).connector
    key = (await connector.create_ticket(tracker.scope, DRAFT)).key

    await tracker.person("close", key)
    assert (await connector.get_ticket(key)).status_category is StatusCategory.DONE
    await tracker.person("reopen", key)
    assert (await connector.get_ticket(key)).status_category is not StatusCategory.DONE

    await tracker.person("comment", key, text="Seen again in 1.4.3")
    assert await tracker.driver.comments(connector, key) == ["Seen again in 1.4.3"]

    async with tracker.control() as c:
        email = f"person-{uuid.uuid4().hex[:8]}@example.com"
        made = await c.post("/people", json={"name": email.split("@")[0], "email": email})
    assert made.status_code == 201, made.text
    account = made.json()["account"]
    await tracker.person("assign", key, account=account)
    assert (await connector.get_ticket(key)).assignee_id == account
    await tracker.person("assign", key, account=None)
    assert (await connector.get_ticket(key)).assignee_id is None

    await tracker.person("delete", key)
    records = await connector.get_tickets([key])
    assert records[key].deleted
    try:
        await connector.get_ticket(key)
    except NotFound:
        pass
    else:
        raise AssertionError("a deleted ticket must read as not found")


async def test_controls_refuse_what_does_not_exist(tracker: Tracker) -> None:
    async with tracker.control() as c:
        missing = await c.post("/tickets/close", json={"key": tracker.scope + "-no-such-ticket"})
        assert missing.status_code == 404 and missing.json()["error"]
        unknown = await c.post("/webhooks/send", json={"delivery": 10**9})
        assert unknown.status_code == 404
        bad = await c.post("/webhooks/send", json={"delivery": 1, "signature": "maybe"})
        assert bad.status_code in (400, 404)
        no_key = await c.post("/tickets/close", json={})
        assert no_key.status_code == 400 and "key" in no_key.json()["error"]
