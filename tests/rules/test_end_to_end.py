"""Rules end to end: events through the real ingest endpoint, evaluations from the outbox, tickets and
comments made in the sandbox trackers."""

from __future__ import annotations

import time

from conduit.ids import decode_as
from tests.rules.helpers import (
    create_rule,
    drained,
    error,
    firings_of,
    issue_of,
    send,
    tickets_of,
    unique,
)
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.people import tracker_comments

# Scaled down from the issue's 1,000 events and a threshold of 100 for a 2-core machine: the same
# shape (one ticket once past the threshold, then milestones 100 and 1,000) with 1,000 events is
# kept, sent in batches through the ingest endpoint.
EVENTS = 1000
BATCH = 100


async def test_a_loud_error_makes_one_ticket_and_milestone_comments(
    conduit: Conduit, sides: dict[str, Side]
) -> None:
    side = sides["github"]
    installed = await install(conduit, side)
    rule = await create_rule(
        conduit,
        name="Loud errors",
        trigger="EVENT_RATE",
        threshold=100,
        windowSeconds=3600,
        installationId=installed.gid,
        target=side.scope,
        ticketTitle="[{level}] {title} ({count} events)",
    )
    kind = unique("Loud")
    started = time.monotonic()
    for _ in range(0, EVENTS, BATCH):
        await send(conduit, [error(kind) for _ in range(BATCH)])
    await drained(conduit, within=120)
    issue = await issue_of(conduit, kind)
    assert issue.times_seen == EVENTS

    tickets = await tickets_of(conduit, issue.id)
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket.title.startswith(f"[error] {kind}: {kind} happened (")

    async def said() -> list[str] | None:
        bodies = await tracker_comments(conduit, side, installed.id, ticket.key)
        return bodies if len(bodies) >= 2 else None

    bodies = await wait_for(said, "the milestone comments to reach the ticket")
    assert len(bodies) == 2
    assert "happened 100 times" in bodies[0] and "happened 1,000 times" in bodies[1]

    firings = await firings_of(conduit, rule["id"])
    made = [f for f in firings if f["action"] == "ticket"]
    assert [f["outcome"] for f in made] == ["CREATED"]
    assert made[0]["externalIssue"]["key"] == ticket.key and made[0]["count"] > 100
    assert made[0]["latencyMs"] is not None
    comments = sorted(f["cause"] for f in firings if f["action"] == "comment")
    assert comments == ["milestone:100", "milestone:1000"]
    assert decode_as(made[0]["issue"]["id"], "Issue") == issue.id
    print(f"{EVENTS} events, rules evaluated and settled in {time.monotonic() - started:.1f}s")
