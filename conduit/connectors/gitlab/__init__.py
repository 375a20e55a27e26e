"""GitLab as a Conduit tracker: REST v4 issues in projects, webhooks carrying a shared secret token.

Keys are `group/project#iid` (groups may nest: `group/subgroup/project#iid`); a scope is a project's
full path, `group/project`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conduit.connectors.gitlab.connector import GitLabConnector
from conduit.connectors.tracker import Tracker

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox


def _sandbox() -> Sandbox:
    from conduit.connectors.gitlab.sandbox import GitLabSandbox

    return GitLabSandbox()


TRACKER = Tracker(connector=GitLabConnector, sandbox=_sandbox)

__all__ = ["TRACKER"]
