"""GitHub as a Conduit tracker: REST v3 issues in repositories, HMAC-signed webhooks.

Keys are `owner/repo#number`; a scope is a repository, `owner/repo`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conduit.connectors.github.connector import GitHubConnector
from conduit.connectors.tracker import Tracker

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox


def _sandbox() -> Sandbox:
    from conduit.connectors.github.sandbox import GitHubSandbox

    return GitHubSandbox()


TRACKER = Tracker(connector=GitHubConnector, sandbox=_sandbox)

__all__ = ["TRACKER"]
