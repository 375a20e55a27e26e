"""`previewRule` answers what a rule would do with the recent past, writes nothing, and agrees with
what the rule then does with the same issues."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from conduit.db.base import utcnow
from conduit.db.models import OutboxRow, RuleFiring, RuleIssueCount
from conduit.ids import decode_as, encode
from tests.rules.helpers import (
    PREVIEW,
    create_rule,
    drained,
    error,
    firings_of,
    issue_of,
    send,
    tickets_of,
    unique,
)
from tests.sync.conftest import Conduit, Side, install


async def _written(conduit: Conduit) -> tuple[int, int, int]:
    org = conduit.tenant.organization_id
    async with conduit.runtime.sessions() as session:
        outbox = await session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.organization_id == org)
        )
        counts = await session.scalar(
            select(func.count()).select_from(RuleIssueCount).where(RuleIssueCount.organization_id == org)
        )
        firings = await session.scalar(
            select(func.count()).select_from(RuleFiring).where(RuleFiring.organization_id == org)
        )
    return int(outbox or 0), int(counts or 0), int(firings or 0)


async def test_preview_matches_what_the_rule_then_does(conduit: Conduit, sides: dict[str, Side]) -> None:
    side = sides["github"]
    installed = await install(conduit, side)
    loud, quiet, staging, second = (unique(k) for k in ("Loud", "Quiet", "Staging", "Second"))
    await send(conduit, [error(loud, environment="production") for _ in range(30)])
    await send(conduit, [error(quiet, environment="production") for _ in range(5)])
    await send(conduit, [error(staging, environment="staging") for _ in range(30)])
    await send(conduit, [error(second, environment="production") for _ in range(30)])
    await drained(conduit)
    rule = {
        "name": "Loud in production",
        "trigger": "EVENT_RATE",
        "threshold": 20,
        "windowSeconds": 3600,
        "environments": ["production"],
        "installationId": installed.gid,
        "target": side.scope,
        "ticketTitle": "{title} in {environment}",
        "maxTicketsPerHour": 1,
    }
    before = await _written(conduit)
    calls = await side.calls()
    since = (utcnow() - timedelta(hours=1)).isoformat()
    project = encode("Project", conduit.tenant.project_id)
    answer = (await conduit.graphql(PREVIEW, p=project, i=rule, since=since))["previewRule"]
    assert answer["__typename"] == "RulePreview", answer
    assert answer["examined"] == 4 and not answer["truncated"]
    predicted = {decode_as(m["issue"]["id"], "Issue"): m for m in answer["matches"]}
    ids = {k: (await issue_of(conduit, k)).id for k in (loud, quiet, staging, second)}
    assert set(predicted) == {ids[loud], ids[second]}
    assert predicted[ids[loud]]["outcome"] == "CREATED"
    assert predicted[ids[loud]]["ticketTitle"] == f"{loud}: {loud} happened in production"
    assert predicted[ids[second]]["outcome"] == "SUPPRESSED"
    assert await _written(conduit) == before, "the preview wrote nothing"
    assert await side.calls() == calls, "the preview called no tracker"

    # The rule, saved: one more event of each issue has it evaluate them, oldest first.
    made = await create_rule(conduit, **rule)
    for kind in (loud, quiet, staging, second):
        await send(conduit, [error(kind, environment="production" if kind != staging else "staging")])
        await drained(conduit)
    done = {decode_as(f["issue"]["id"], "Issue"): f for f in await firings_of(conduit, made["id"])}
    assert set(done) == set(predicted)
    assert {i: f["outcome"] for i, f in done.items()} == {i: m["outcome"] for i, m in predicted.items()}
    (ticket,) = await tickets_of(conduit, ids[loud])
    assert ticket.title == predicted[ids[loud]]["ticketTitle"]
