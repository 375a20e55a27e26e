"""Claiming due rows: free rows and the head of each free key go out, in id order, whatever waits
behind a held key."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from conduit.db.models import OutboxRow, OutboxState
from conduit.jobs import claims
from conduit.runtime import Runtime

S = OutboxState
LEASE = timedelta(minutes=5)
# A clock far in the past, so that only this test's rows are due and rows other tests left behind
# in the shared database are not claimed.
NOW = datetime(2001, 1, 1, tzinfo=UTC)
DUE = NOW - timedelta(days=1)
LATER = NOW + timedelta(days=1)
BEHIND = 300


async def test_a_claim_hands_out_free_rows_and_key_heads_past_a_held_key(runtime: Runtime) -> None:
    tag = secrets.token_hex(4)
    held, a, b, late, retried = (f"{tag}:{name}" for name in ("held", "a", "b", "late", "retried"))
    plan: list[tuple[str, str | None, OutboxState, datetime]] = [
        ("held-running", held, S.RUNNING, DUE),
        ("b-done", b, S.DONE, DUE),
        ("retried-pending", retried, S.PENDING, DUE),  # a dead row retried while a later one runs
        ("late-head", late, S.PENDING, LATER),  # not yet due: holds back its key
    ]
    # The rows behind the held key come first, so a claim reaches the free rows only past them.
    plan += [(f"held-{i}", held, S.PENDING, DUE) for i in range(BEHIND)]
    plan += [
        ("free-1", None, S.PENDING, DUE),
        ("a-1", a, S.PENDING, DUE),
        ("late-2", late, S.PENDING, DUE),
        ("retried-running", retried, S.RUNNING, DUE),
        ("b-1", b, S.PENDING, DUE),
        ("a-2", a, S.PENDING, DUE),
        ("free-later", None, S.PENDING, LATER),
        ("free-2", None, S.PENDING, DUE),
        ("b-2", b, S.PENDING, DUE),
    ]
    plan += [(f"held-tail-{i}", held, S.PENDING, DUE) for i in range(BEHIND)]
    ids: dict[str, int] = {}
    async with runtime.sessions() as session:
        rows = {
            name: OutboxRow(kind="test.record", key=key, payload={}, state=state, run_after=run_after)
            for name, key, state, run_after in plan
        }
        for name, _, _, _ in plan:
            session.add(rows[name])
            await session.flush()  # one at a time: ids follow the plan's order
        await session.commit()
        ids = {name: row.id for name, row in rows.items()}

    async def claim(limit: int, now: datetime = NOW) -> list[int]:
        async with runtime.sessions() as session, session.begin():
            return await claims.claim_due(session, now, limit, LEASE)

    async def finish(name: str) -> None:
        async with runtime.sessions() as session, session.begin():
            await session.execute(update(OutboxRow).where(OutboxRow.id == ids[name]).values(state=S.DONE))

    expected = [ids[n] for n in ("free-1", "a-1", "b-1", "free-2")]
    # The lowest candidates first, then the rest; never a second row of a key.
    assert await claim(2) == expected[:2]
    assert await claim(1000) == expected[2:]
    assert await claim(1000) == []

    # Each key moves on once its leased row is done, one row at a time.
    await finish("a-1")
    await finish("b-1")
    assert await claim(1000) == [ids["a-2"], ids["b-2"]]
    await finish("held-running")
    assert await claim(1000) == [ids["held-0"]]
    await finish("held-0")
    assert await claim(1000) == [ids["held-1"]]

    # Once due, the late key's head goes first and its second row waits; the free row is due too.
    assert await claim(1000, LATER) == [ids["late-head"], ids["free-later"]]
    # The retried row waits for the running row of its key, though that row came later.
    await finish("retried-running")
    assert await claim(1000) == [ids["retried-pending"]]
