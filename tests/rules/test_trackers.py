"""Rules against every registered tracker: what saving a rule checks at the tracker, the labels its
tickets carry, and a regression reopening the ticket a rule made."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from conduit.connectors import StatusCategory
from conduit.db.models import Installation
from conduit.ids import encode
from tests.rules.helpers import drained, error, issue_of, send, tickets_of, unique
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import category_is, tracker_ticket

SAVE = """
mutation($p: ID!, $i: RuleInput!) { createRule(projectId: $p, input: $i) { __typename
  ... on RulePayload { rule { id ticketLabels } }
  ... on UnknownStatusError { message field unknown validStatuses }
  ... on ValidationError { message field } ... on UserError { message } } }"""
LABELS = ("conduit", "production error")


def missing_target(scope: str) -> str:
    """A target of the same shape as `scope` that the sandbox does not have."""
    return f"{scope.split('/')[0]}/no-such-{unique('x')}" if "/" in scope else "NOSUCH"


async def save(conduit: Conduit, **rule: Any) -> dict[str, Any]:
    project = encode("Project", conduit.tenant.project_id)
    return dict((await conduit.graphql(SAVE, p=project, i=rule))["createRule"])


async def set_config(conduit: Conduit, installation_id: int, **config: Any) -> None:
    """The installation's config as stored; set here because the API checks statuses only against
    scopes the installation already works in, and a tracker's statuses may change after that check."""
    async with conduit.runtime.sessions() as session:
        row = await session.get(Installation, installation_id)
        assert row is not None
        await session.execute(
            update(Installation)
            .where(Installation.id == installation_id)
            .values(config={**(row.config or {}), **config})
        )
        await session.commit()


async def test_a_target_the_tracker_lacks_is_refused_on_save(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    saved = await save(
        conduit,
        name="Typo",
        trigger="NEW_ISSUE",
        installationId=installed.gid,
        target=missing_target(side.scope),
    )
    assert saved["__typename"] == "ValidationError", saved
    assert saved["field"] == "input.target"


async def test_a_reopen_status_the_target_lacks_is_refused_on_save(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    await set_config(conduit, installed.id, reopen_status="No Such Status")
    try:
        saved = await save(
            conduit, name="Reopens", trigger="NEW_ISSUE", installationId=installed.gid, target=side.scope
        )
    finally:
        await set_config(conduit, installed.id, reopen_status=None)
    assert saved["__typename"] == "UnknownStatusError", saved
    assert saved["field"] == "input.target"
    assert saved["unknown"] == ["No Such Status"] and saved["validStatuses"]
    assert "reopenStatus" in saved["message"]


async def test_malformed_labels_are_refused(conduit: Conduit, sides: dict[str, Side]) -> None:
    side = sides["github"]
    installed = await install(conduit, side)
    base = {"name": "Labels", "trigger": "NEW_ISSUE", "installationId": installed.gid, "target": side.scope}
    for labels in (["a,b"], ["x" * 51], [" "], [f"l{n}" for n in range(11)]):
        saved = await save(conduit, **base, ticketLabels=labels)
        assert saved["__typename"] == "ValidationError" and saved["field"] == "input.ticketLabels", (
            labels,
            saved,
        )
    # Labels without a ticket action have nothing to go on.
    saved = await save(conduit, name="No action", trigger="NEW_ISSUE", ticketLabels=["conduit"])
    assert saved["__typename"] == "ValidationError" and saved["field"] == "input.ticketLabels", saved


async def test_a_rules_ticket_carries_its_labels(conduit: Conduit, side: Side) -> None:
    installed = await install(conduit, side)
    rule = await _labelled_rule(conduit, installed.gid, side.scope)
    assert rule["ticketLabels"] == list(LABELS)
    kind = unique("Labelled")
    await send(conduit, [error(kind)])
    await drained(conduit)
    issue = await issue_of(conduit, kind)
    [ticket] = await tickets_of(conduit, issue.id)
    record = await tracker_ticket(conduit, installed.id, ticket.key)
    state = await side.control("GET", "/state")
    assert sorted(side.driver.labels(state, record)) == sorted(side.driver.label_as(n) for n in LABELS)


async def _labelled_rule(conduit: Conduit, installation_gid: str, target: str) -> dict[str, Any]:
    saved = await save(
        conduit,
        name=unique("Labelled"),
        trigger="NEW_ISSUE",
        installationId=installation_gid,
        target=target,
        text="Labelled",
        ticketLabels=list(LABELS),
    )
    assert saved["__typename"] == "RulePayload", saved
    return dict(saved["rule"])


async def test_a_regression_reopens_the_rules_ticket_per_the_reopen_status(
    conduit: Conduit, side: Side
) -> None:
    installed = await install(conduit, side)
    await save(
        conduit,
        name=unique("Regressions"),
        trigger="NEW_ISSUE",
        installationId=installed.gid,
        target=side.scope,
        text="Regressing",
    )
    kind = unique("Regressing")
    await send(conduit, [error(kind)])
    await drained(conduit)
    issue = await issue_of(conduit, kind)
    [ticket] = await tickets_of(conduit, issue.id)
    opened = await tracker_ticket(conduit, installed.id, ticket.key)
    # Reopened tickets go back to the status new tickets start in, named in the config.
    await set_config(conduit, installed.id, reopen_status=opened.status)
    try:
        await conduit.set_status(issue.id, "RESOLVED")
        await wait_for(
            lambda: category_is(conduit, installed.id, ticket.key, "done"), "the ticket to be resolved"
        )
        # The error happens again: ingest reopens the issue as a regression, and sync out the ticket.
        await send(conduit, [error(kind)])
        await wait_for(
            lambda: category_is(conduit, installed.id, ticket.key, opened.status_category.value),
            "the ticket to be reopened",
        )
        await drained(conduit)
    finally:
        await set_config(conduit, installed.id, reopen_status=None)
    reopened = await tracker_ticket(conduit, installed.id, ticket.key)
    assert reopened.status_category is not StatusCategory.DONE
    assert reopened.status.casefold() == opened.status.casefold()
