"""Which scope a token needs to receive each event type, by webhook or subscription.

Every type in the catalog is listed here explicitly, and a type that is not listed needs `admin`: an
event type added without thinking about who may read it is withheld, never sent to every reader of the
organization (an event carries the resource it is about, so its scope is that resource's read scope).
"""

from __future__ import annotations

from conduit.events.catalog import canonical

ADMIN = "admin"
# The lifecycle of an app installation is the app's own business: always sent to that app.
LIFECYCLE = frozenset({"installation.created", "installation.deleted"})
_BY_TYPE = {
    "issue.created": "issue:read",
    "issue.resolved": "issue:read",
    "issue.unresolved": "issue:read",
    "issue.ignored": "issue:read",
    "issue.assigned": "issue:read",
    "comment.created": "issue:read",
    "event.created": "event:read",
    # Links and tickets show the tracker installation's tickets.
    "issue.linked": "installation:read",
    "issue.unlinked": "installation:read",
    "external_issue.updated": "installation:read",
    "tracker_installation.failed": "installation:read",
    "tracker_installation.removed": "installation:read",
    # A rule is project configuration; the firing names the issue by id only.
    "rule.triggered": "project:read",
    # Endpoint health concerns an app owner, who reads it with `app:read`.
    "endpoint.failing": "app:read",
    "endpoint.disabled": "app:read",
}


def required_scope(event_type: str) -> str | None:
    """The scope needed to receive `event_type`; None for an app's own lifecycle events.

    A deprecated name needs what its replacement needs (`installation.removed` what
    `tracker_installation.removed` needs).
    """
    event_type = canonical(event_type)
    if event_type in LIFECYCLE:
        return None
    return _BY_TYPE.get(event_type, ADMIN)
