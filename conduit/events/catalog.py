"""The one event catalog that feeds webhooks and subscriptions.

Each event type has a version (bumped on any incompatible change to its `data`), a description, a
JSON Schema (draft 2020-12) of its `data`, and an example that the tests validate against the schema.

A renamed type keeps its old name for one more version as a deprecated alias: listed, marked
`deprecated` with the name that replaces it (also in its schema, as JSON Schema's `deprecated`), and
still subscribable. An event emitted under either name is published under the new one (`canonical`);
a subscriber to the old name still receives it, under the name it subscribed to (`names_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conduit.events import schemas as s
from conduit.ids import encode


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    version: int
    description: str
    data: dict[str, Any] = field(default_factory=dict, repr=False)  # schema of the payload's `data`
    example: dict[str, Any] = field(default_factory=dict, repr=False)
    # For a deprecated alias: the name that replaces it. Removed in the next version.
    replaced_by: str | None = None

    @property
    def deprecated(self) -> bool:
        return self.replaced_by is not None

    @property
    def schema(self) -> dict[str, Any]:
        """The standalone schema document for `data`, with its dialect and id."""
        doc = {
            "$schema": s.DIALECT,
            "$id": f"https://conduit.dev/schemas/events/{self.name}/v{self.version}.json",
            "title": self.name,
            "description": self.description,
            **self.data,
        }
        if self.replaced_by is not None:
            doc["deprecated"] = True
        return doc

    def alias(self, old_name: str) -> EventType:
        """This type under its old name, deprecated in favour of this one."""
        return EventType(
            old_name,
            self.version,
            f"Deprecated: use `{self.name}`, which replaces it; this name is removed in the next version. "
            + self.description,
            self.data,
            self.example,
            replaced_by=self.name,
        )


_T = "2026-03-02T10:15:00+00:00"
_ISSUE = {
    "id": encode("Issue", 42),
    "project_id": encode("Project", 7),
    "title": "ZeroDivisionError: division by zero",
    "culprit": "app.billing.invoice in total",
    "level": "error",
    "status": "unresolved",
    "count": 3,
    "first_seen": "2026-03-02T09:58:11+00:00",
    "last_seen": _T,
    "resolved_at": None,
    "assignee_id": None,
}
_APP_INSTALLATION = {
    "id": encode("AppInstallation", 5),
    "app_id": encode("App", 2),
    "organization_id": encode("Organization", 3),
    "status": "installed",
    "scopes": ["issue:read", "issue:write"],
    "created_at": _T,
}
_INSTALLATION = {
    "id": encode("Installation", 9),
    "provider": "jira",
    "status": "revoked",
    "status_reason": "Jira no longer accepts Conduit's grant: reinstall to reconnect.",
    "account_name": "acme.atlassian.net",
    "created_at": "2026-02-01T08:00:00+00:00",
}
_EXTERNAL_ISSUE = {
    "id": encode("ExternalIssue", 11),
    "installation_id": encode("Installation", 9),
    "key": "OPS-318",
    "url": "https://acme.atlassian.net/browse/OPS-318",
    "title": "ZeroDivisionError: division by zero",
    "status": "In Progress",
    "status_category": "in_progress",
    "assignee": "ada@acme.example",
    "updated_at": _T,
    "deleted": False,
}
_LINK = {
    "id": encode("IssueLink", 13),
    "issue_id": encode("Issue", 42),
    "external_issue_id": encode("ExternalIssue", 11),
    "created_at": _T,
}
_ENDPOINT = {"id": encode("App", 2), "app_id": encode("App", 2), "url": "https://hooks.acme.example/conduit"}


def _issue(status: str, **extra: Any) -> dict[str, Any]:
    return {"issue": {**_ISSUE, "status": status, **extra}}


_ISSUE_DATA = s.obj({"issue": s.ISSUE})

_TRACKER_FAILED = EventType(
    "tracker_installation.failed",
    1,
    "A tracker installation stopped working (set-up failed or the grant was revoked); "
    "`status_reason` says what a person can do.",
    s.obj({"installation": s.INSTALLATION}),
    {"installation": _INSTALLATION},
)
_TRACKER_REMOVED = EventType(
    "tracker_installation.removed",
    1,
    "A tracker installation was uninstalled: the webhooks Conduit registered there were removed and "
    "the grant revoked where the tracker allows; `leftovers` names what a person must remove by hand.",
    s.obj(
        {
            "installation": s.INSTALLATION,
            "webhooks_removed": {"type": "integer", "minimum": 0},
            "token_revoked": {"type": "boolean"},
            "leftovers": {"type": "array", "items": s.string()},
        }
    ),
    {
        "installation": {
            **_INSTALLATION,
            "provider": "github",
            "status": "active",
            "status_reason": None,
        },
        "webhooks_removed": 1,
        "token_revoked": True,
        "leftovers": [],
    },
)

_ALL = (
    EventType(
        "issue.created", 1, "A new issue was grouped from its first event.", _ISSUE_DATA, _issue("unresolved")
    ),
    EventType(
        "issue.resolved",
        1,
        "An issue was marked resolved, by a person, an app or a tracker sync.",
        _ISSUE_DATA,
        _issue("resolved", resolved_at=_T),
    ),
    EventType(
        "issue.unresolved",
        1,
        "A resolved or ignored issue was reopened, by hand or because it happened again.",
        _ISSUE_DATA,
        _issue("unresolved"),
    ),
    EventType("issue.ignored", 1, "An issue was ignored.", _ISSUE_DATA, _issue("ignored")),
    EventType(
        "issue.assigned",
        1,
        "An issue's assignee changed; `assignee_id` is the new one, null when unassigned.",
        _ISSUE_DATA,
        _issue("unresolved", assignee_id=encode("Member", 4)),
    ),
    EventType(
        "event.created",
        1,
        "An event was stored and grouped into an issue.",
        s.obj({"event": s.EVENT}),
        {
            "event": {
                "id": encode("Event", 1001),
                "event_id": "9f2c1e4b7a3d4c2e8f1a6b5c4d3e2f1a",
                "issue_id": encode("Issue", 42),
                "project_id": encode("Project", 7),
                "timestamp": _T,
                "received_at": _T,
                "platform": "python",
                "level": "error",
                "message": "",
                "exception_type": "ZeroDivisionError",
                "exception_value": "division by zero",
                "release": "billing@1.4.2",
                "environment": "production",
                "tags": {"server_name": "web-3"},
            }
        },
    ),
    EventType(
        "comment.created",
        1,
        "A comment was added to an issue.",
        s.obj({"comment": s.COMMENT}),
        {
            "comment": {
                "id": encode("Comment", 21),
                "issue_id": encode("Issue", 42),
                "author_id": encode("Member", 4),
                "body": "Fixed in billing@1.4.3, deploying now.",
                "created_at": _T,
            }
        },
    ),
    EventType(
        "installation.created",
        1,
        "An organization installed the app. `code` is a single-use grant, valid for 10 minutes, that the "
        "app exchanges at POST /oauth/token for its tokens.",
        s.obj(
            {"app_installation": s.APP_INSTALLATION, "code": s.string(), "code_expires_at": s.TIME},
        ),
        {
            "app_installation": {**_APP_INSTALLATION, "status": "pending"},
            "code": "gc_4Jx8sV2mQ0nLr7TzYb1WcK",
            "code_expires_at": "2026-03-02T10:25:00+00:00",
        },
    ),
    EventType(
        "installation.deleted",
        1,
        "An organization uninstalled the app; its tokens no longer work.",
        s.obj({"app_installation": s.APP_INSTALLATION}),
        {"app_installation": _APP_INSTALLATION},
    ),
    _TRACKER_FAILED,
    _TRACKER_REMOVED,
    EventType(
        "issue.linked",
        1,
        "An issue was linked to a ticket in a tracker, newly created or existing.",
        s.obj({"link": s.ISSUE_LINK, "external_issue": s.EXTERNAL_ISSUE}),
        {"link": _LINK, "external_issue": _EXTERNAL_ISSUE},
    ),
    EventType(
        "issue.unlinked",
        1,
        "A link between an issue and a ticket was removed; the ticket itself is untouched.",
        s.obj({"link": s.ISSUE_LINK}),
        {"link": _LINK},
    ),
    EventType(
        "external_issue.updated",
        1,
        "A linked ticket changed in its tracker; `changes` names the fields that did (`key`: the ticket "
        "moved, to another project or repository, and is known by its new key).",
        s.obj(
            {
                "external_issue": s.EXTERNAL_ISSUE,
                "changes": {
                    "type": "array",
                    "items": s.string(enum=("key", "title", "status", "assignee", "deleted")),
                    "uniqueItems": True,
                },
            }
        ),
        {"external_issue": _EXTERNAL_ISSUE, "changes": ["status", "assignee"]},
    ),
    EventType(
        "rule.triggered",
        1,
        "An automation rule matched an issue. `firing.outcome` says what it did: a ticket requested "
        "(`pending`), made or already there, a milestone comment queued, nothing but this event "
        "(`emitted`), or held back by a limit (`suppressed`, with the `reason`).",
        s.obj({"rule": s.RULE, "firing": s.RULE_FIRING}),
        {
            "rule": {
                "id": encode("Rule", 3),
                "project_id": encode("Project", 7),
                "name": "Loud errors to the backlog",
                "trigger": "event_rate",
            },
            "firing": {
                "id": encode("RuleFiring", 57),
                "issue_id": encode("Issue", 42),
                "action": "ticket",
                "cause": "rate",
                "outcome": "pending",
                "reason": None,
                "count": 101,
                "external_issue_id": None,
                "created_at": _T,
            },
        },
    ),
    EventType(
        "endpoint.failing",
        1,
        "Deliveries to an endpoint keep failing; it will be disabled after 5 days of failures only.",
        s.obj(
            {
                "endpoint": s.ENDPOINT,
                "failed_attempts": {"type": "integer", "minimum": 1},
                "failing_since": s.TIME,
                "disable_at": s.TIME,
                "last_error": s.string(max_length=1024),
            }
        ),
        {
            "endpoint": _ENDPOINT,
            "failed_attempts": 4,
            "failing_since": "2026-03-01T10:15:00+00:00",
            "disable_at": "2026-03-06T10:15:00+00:00",
            "last_error": "HTTP 503 from https://hooks.acme.example/conduit",
        },
    ),
    EventType(
        "endpoint.disabled",
        1,
        "An endpoint no longer receives deliveries: it answered 410 Gone, failed for 5 days, or was "
        "disabled by hand. Failed deliveries can be re-sent once it is enabled again.",
        s.obj(
            {
                "endpoint": s.ENDPOINT,
                "reason": s.string(enum=("gone", "failing", "manual")),
                "disabled_at": s.TIME,
            }
        ),
        {"endpoint": _ENDPOINT, "reason": "failing", "disabled_at": _T},
    ),
)

# Old name → the type that replaces it; each alias is kept for one version.
_RENAMED = {
    # `installation.*` is an app's installation; a tracker's has its own names.
    "installation.failed": _TRACKER_FAILED,
    "installation.removed": _TRACKER_REMOVED,
}

EVENT_TYPES: dict[str, EventType] = {
    **{e.name: e for e in _ALL},
    **{old: new.alias(old) for old, new in _RENAMED.items()},
}
_ALIASES: dict[str, tuple[str, ...]] = {}
for _old, _new in _RENAMED.items():
    _ALIASES[_new.name] = (*_ALIASES.get(_new.name, ()), _old)


def canonical(name: str) -> str:
    """The current name of an event type (itself, unless `name` is a deprecated alias)."""
    kind = EVENT_TYPES.get(name)
    return kind.replaced_by if kind is not None and kind.replaced_by is not None else name


def names_of(name: str) -> tuple[str, ...]:
    """Every name subscribers may know an event type by: its current name first, then old ones."""
    current = canonical(name)
    return (current, *_ALIASES.get(current, ()))
