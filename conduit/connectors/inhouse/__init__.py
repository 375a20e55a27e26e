"""In-house trackers as Conduit trackers: any service implementing the published tracker contract.

The contract (`contract.py`, OpenAPI 3.1) is served at `/contract/tracker/v1/openapi.json`; the
reference implementation lives in `examples/inhouse_tracker/` and is what the sandbox serves; the
conformance checker (`check.py`) is `conduit tracker-check URL`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conduit.connectors.inhouse.connector import InhouseConnector
from conduit.connectors.tracker import Tracker

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox


def _sandbox() -> Sandbox:
    from conduit.connectors.inhouse.sandbox import InhouseSandbox

    return InhouseSandbox()


TRACKER = Tracker(connector=InhouseConnector, sandbox=_sandbox)

__all__ = ["TRACKER"]
