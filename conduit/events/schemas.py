"""JSON Schemas (draft 2020-12) of the resources that event payloads carry.

Each resource is the object itself plus the ids of related ones, never related objects inlined:
receivers follow an id through the API when they need more. Ids are the API's global ids.
"""

from __future__ import annotations

from typing import Any

DIALECT = "https://json-schema.org/draft/2020-12/schema"

Schema = dict[str, Any]

ID: Schema = {"type": "string", "minLength": 1, "description": "A global id, as the API returns it."}
TIME: Schema = {"type": "string", "format": "date-time"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = (), description: str = "") -> Schema:
    """A closed object whose properties are all required except `optional`."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": [k for k in properties if k not in optional],
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def string(*, enum: tuple[str, ...] | None = None, max_length: int | None = None) -> Schema:
    schema: Schema = {"type": "string"}
    if enum:
        schema["enum"] = list(enum)
    if max_length:
        schema["maxLength"] = max_length
    return schema


ISSUE = obj(
    {
        "id": ID,
        "project_id": ID,
        "title": string(),
        "culprit": string(),
        "level": string(),
        "status": string(enum=("unresolved", "resolved", "ignored")),
        "count": {"type": "integer", "minimum": 1},
        "first_seen": TIME,
        "last_seen": TIME,
        "resolved_at": nullable(TIME),
        "assignee_id": nullable(ID),
    },
    description="A group of events sharing one fingerprint.",
)

EVENT = obj(
    {
        "id": ID,
        "event_id": string(),
        "issue_id": ID,
        "project_id": ID,
        "timestamp": TIME,
        "received_at": TIME,
        "platform": string(),
        "level": string(),
        "message": string(),
        "exception_type": nullable(string()),
        "exception_value": nullable(string()),
        "release": nullable(string()),
        "environment": nullable(string()),
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    description="One occurrence; frames and the full payload are fetched through the API.",
)

COMMENT = obj(
    {
        "id": ID,
        "issue_id": ID,
        "author_id": nullable(ID),
        "body": string(),
        "created_at": TIME,
        "source": nullable(
            obj(
                {"installation_id": ID, "provider": string(), "author_name": nullable(string())},
                description="Where a comment written in a tracker came from; null for one written in "
                "Conduit. `author_name` is the tracker user's name when they match no member.",
            )
        ),
    },
    optional=("source",),
    description="A comment on an issue.",
)

APP_INSTALLATION = obj(
    {
        "id": ID,
        "app_id": ID,
        "organization_id": ID,
        "status": string(enum=("pending", "installed")),
        "scopes": {"type": "array", "items": string(), "uniqueItems": True},
        "created_at": TIME,
    },
    description="An app installed in an organization.",
)

INSTALLATION = obj(
    {
        "id": ID,
        "provider": string(),
        "status": string(enum=("pending", "active", "error", "revoked")),
        "status_reason": nullable(string()),
        "account_name": nullable(string()),
        "created_at": TIME,
    },
    description="An organization's connection to one tracker account or site.",
)

EXTERNAL_ISSUE = obj(
    {
        "id": ID,
        "installation_id": ID,
        "key": string(),
        "url": string(),
        "title": string(),
        "status": string(),
        "status_category": string(enum=("open", "in_progress", "done")),
        "assignee": nullable(string()),
        "updated_at": nullable(TIME),
        "deleted": {"type": "boolean"},
    },
    description="A ticket in a tracker, with the fields last seen there.",
)

ISSUE_LINK = obj(
    {"id": ID, "issue_id": ID, "external_issue_id": ID, "created_at": TIME},
    description="An issue linked to a ticket.",
)

ENDPOINT = obj(
    {"id": ID, "app_id": ID, "url": string()},
    description="Where an app receives its webhooks.",
)

RULE = obj(
    {
        "id": ID,
        "project_id": ID,
        "name": string(),
        "trigger": string(enum=("new_issue", "regression", "event_rate", "events_since_ticket")),
    },
    description="An automation rule of a project.",
)

RULE_FIRING = obj(
    {
        "id": ID,
        "issue_id": ID,
        "action": string(enum=("ticket", "comment", "event")),
        "cause": string(),
        "outcome": string(
            enum=("pending", "created", "linked", "commented", "emitted", "suppressed", "failed")
        ),
        "reason": nullable(string()),
        "count": {"type": "integer", "minimum": 0},
        "external_issue_id": nullable(ID),
        "created_at": TIME,
    },
    description="One time a rule matched an issue, and what it did about it.",
)

ACTOR: Schema = {
    "type": "object",
    "description": "Who made the change: a person, an API token, an app, a tracker sync, or Conduit itself.",
    "properties": {
        "type": string(enum=("user", "member", "api_token", "app", "tracker", "system")),
        "id": ID,
        "name": string(),
        "provider": string(),
        "reason": string(),
        # For a tracker sync: the tracker user who made the change, when the tracker says.
        "tracker_user": nullable(string()),
    },
    "required": ["type"],
    "additionalProperties": False,
}
