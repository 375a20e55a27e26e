"""Linear as a Conduit tracker: GraphQL issues in teams, workflow states, HMAC-signed webhooks.

Keys are `TEAM-123`; a scope is a team key, `TEAM`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conduit.connectors.linear.connector import LinearConnector
from conduit.connectors.tracker import Tracker

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox


def _sandbox() -> Sandbox:
    from conduit.connectors.linear.sandbox import LinearSandbox

    return LinearSandbox()


TRACKER = Tracker(connector=LinearConnector, sandbox=_sandbox)

__all__ = ["TRACKER"]
