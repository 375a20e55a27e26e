"""A service that stops answering shows it in its installation's health, and holds up no other
installation's work: its calls time out on their own, its jobs retry later, and the jobs of a tracker
that answers go through meanwhile. (That the retries then converge is the shared fault suite's part.)"""

from __future__ import annotations

from typing import Any

from conduit.ids import encode
from tests.sync.conftest import Conduit, Side, install, wait_for
from tests.sync.helpers import CREATE, REQUEST, create_ticket
from tests.sync.test_faults import HEALTH


async def test_a_stalled_service_holds_up_no_other_installation(
    conduit: Conduit, sides: dict[str, Side]
) -> None:
    stalled, answering = sides["inhouse"], sides["github"]
    slow = await install(conduit, stalled)
    other = await install(conduit, answering)
    # Every call to the service hangs far past the client's timeout.
    await stalled.fault(kind="timeout", seconds=30, count=50)
    try:
        waiting = await conduit.issue()
        submitted = (
            await conduit.graphql(
                CREATE, issue=encode("Issue", waiting), inst=slow.gid, target=stalled.scope, title=None
            )
        )["createExternalIssue"]
        assert submitted["__typename"] == "CreateExternalIssuePayload", submitted

        async def failing() -> dict[str, Any] | None:
            health = (await conduit.graphql(HEALTH, id=slow.gid))["installation"]["health"]
            return health if health["failures"] >= 1 and health["lastError"] else None

        health = await wait_for(failing, "the stalled service's failures in its health", within=30)
        assert health["errorRate"] > 0

        # Meanwhile the other tracker's tickets are made as usual, one after another.
        for _ in range(3):
            await create_ticket(conduit, other.gid, await conduit.issue(), answering.scope)
        request = (await conduit.graphql(REQUEST, id=submitted["request"]["id"]))["ticketRequest"]
        assert request["state"] != "DONE"  # still waiting on the stalled service
    finally:
        await stalled.clear_faults()
