"""Which scope a token needs to receive each event type, by webhook or subscription."""

from __future__ import annotations

# The lifecycle of an app installation is the app's own business: always sent to that app.
LIFECYCLE = frozenset({"installation.created", "installation.deleted"})
# Endpoint health concerns an app owner, who reads it with `app:read`.
_BY_TYPE = {
    "installation.failed": "installation:read",
    "issue.linked": "installation:read",
    "issue.unlinked": "installation:read",
    "endpoint.failing": "app:read",
    "endpoint.disabled": "app:read",
}
_BY_FAMILY = {
    "issue": "issue:read",
    "event": "event:read",
    "comment": "issue:read",
    "external_issue": "installation:read",
}
DEFAULT_SCOPE = "org:read"


def required_scope(event_type: str) -> str | None:
    """The scope needed to receive `event_type`; None for an app's own lifecycle events."""
    if event_type in LIFECYCLE:
        return None
    if event_type in _BY_TYPE:
        return _BY_TYPE[event_type]
    family = event_type.split(".", 1)[0]
    # Event types the connectors add fall back to a scope every reader of the organization has.
    return _BY_FAMILY.get(family, DEFAULT_SCOPE)
