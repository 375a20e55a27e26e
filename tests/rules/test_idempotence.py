"""An evaluation runs at least once: one killed before it commits leaves nothing, and one run again
(a redelivered job, a second worker) makes no second ticket, firing or milestone comment."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from conduit.db.base import utcnow
from conduit.db.models import Issue, Rule, RuleFiring, TicketRequest
from conduit.ids import decode_as
from conduit.rules import evaluate
from tests.rules.helpers import create_rule, drained, error, issue_of, send, tickets_of, unique
from tests.sync.conftest import Conduit, Side, install
from tests.sync.people import tracker_comments


async def _rows(conduit: Conduit, issue_id: int) -> tuple[int, int]:
    async with conduit.runtime.sessions() as session:
        firings = len(
            (await session.execute(select(RuleFiring.id).where(RuleFiring.issue_id == issue_id))).all()
        )
        requests = len(
            (await session.execute(select(TicketRequest.id).where(TicketRequest.issue_id == issue_id))).all()
        )
    return firings, requests


async def test_an_evaluation_killed_midway_leaves_nothing_and_reruns_make_no_duplicate(
    conduit: Conduit, sides: dict[str, Side]
) -> None:
    side = sides["github"]
    installed = await install(conduit, side)
    rule = await create_rule(
        conduit,
        name="Loud",
        trigger="EVENT_RATE",
        threshold=5,
        windowSeconds=600,
        installationId=installed.gid,
        target=side.scope,
    )
    # The rule is off while the events arrive, so the evaluation below is the first.
    async with conduit.runtime.sessions() as session:
        row = await session.get(Rule, decode_as(rule["id"], "Rule"))
        assert row is not None
        row.enabled = False
        await session.commit()
    kind = unique("Killed")
    await send(conduit, [error(kind) for _ in range(12)])
    await drained(conduit)
    issue = await issue_of(conduit, kind)
    async with conduit.runtime.sessions() as session:
        row = await session.get(Rule, decode_as(rule["id"], "Rule"))
        assert row is not None
        row.enabled = True
        await session.commit()

    # Killed after deciding and requesting the ticket, before committing: as a worker dies midway.
    started, release = asyncio.Event(), asyncio.Event()
    original = evaluate.links.request_ticket

    async def stalled(*args: object, **kwargs: object) -> TicketRequest:
        made = await original(*args, **kwargs)  # type: ignore[arg-type]
        started.set()
        await release.wait()
        return made

    evaluate.links.request_ticket = stalled  # type: ignore[assignment]
    try:
        task = asyncio.create_task(evaluate.evaluate(conduit.runtime, issue.id))
        await asyncio.wait_for(started.wait(), 20)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        evaluate.links.request_ticket = original  # type: ignore[assignment]
    assert await _rows(conduit, issue.id) == (0, 0), "nothing of the killed evaluation remains"

    # Run again, twice (a redelivered job), and once more through the queue with a new event.
    first = await evaluate.evaluate(conduit.runtime, issue.id)
    again = await evaluate.evaluate(conduit.runtime, issue.id, now=utcnow())
    assert first.outcomes == {"pending": 1} and again.outcomes == {}
    async with conduit.runtime.sessions() as session:
        evaluate.queue(session, conduit.tenant.organization_id, issue.id)
        evaluate.queue(session, conduit.tenant.organization_id, issue.id)
        await session.commit()
    await send(conduit, [error(kind)])
    await drained(conduit)

    tickets = await tickets_of(conduit, issue.id)
    assert len(tickets) == 1
    _, requests = await _rows(conduit, issue.id)
    assert requests == 1
    async with conduit.runtime.sessions() as session:
        outcomes = [
            (f.action, f.cause, f.outcome.value)
            for f in (
                await session.execute(
                    select(RuleFiring).where(RuleFiring.issue_id == issue.id).order_by(RuleFiring.id)
                )
            ).scalars()
        ]
        assert (await session.get(Issue, issue.id)) is not None
    assert outcomes == [("ticket", "rate", "created"), ("comment", "milestone:10", "commented")]
    assert len(await tracker_comments(conduit, side, installed.id, tickets[0].key)) == 1
