"""Shortcut as a Conduit tracker: REST v3 stories, a pasted API token, HMAC-signed workspace webhooks.

Keys are `sc-<story id>`; the scope is the workspace, written `workspace` (see connector.py for why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conduit.connectors.shortcut.connector import ShortcutConnector
from conduit.connectors.tracker import Tracker

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox


def _sandbox() -> Sandbox:
    from conduit.connectors.shortcut.sandbox import ShortcutSandbox

    return ShortcutSandbox()


TRACKER = Tracker(connector=ShortcutConnector, sandbox=_sandbox)

__all__ = ["TRACKER"]
