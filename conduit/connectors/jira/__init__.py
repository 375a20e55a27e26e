"""Jira as a Conduit tracker: REST v3 issues in projects, ADF documents, workflow transitions,
webhooks signed with a JWT (dynamic webhooks of an OAuth app) or an HMAC (admin webhooks).

Keys are `PROJECT-123`; a scope is a project key, `PROJECT`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conduit.connectors.jira.connector import JiraConnector
from conduit.connectors.tracker import Tracker

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox


def _sandbox() -> Sandbox:
    from conduit.connectors.jira.sandbox import JiraSandbox

    return JiraSandbox()


TRACKER = Tracker(connector=JiraConnector, sandbox=_sandbox)

__all__ = ["TRACKER"]
