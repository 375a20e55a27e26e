"""The in-house tracker contract, v1, as an OpenAPI 3.1 document: what Conduit calls on a service.

This document is the published promise: `InhouseConnector` calls no endpoint and reads no field it
does not describe, and `conduit tracker-check` validates a service's answers against these schemas.
Conduit serves it at `CONTRACT_PATH`. A change that breaks a service implementing v1 is a v2, served
beside it; additions (an optional field, a capability) stay v1.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

VERSION = "1"
CONTRACT_PATH = f"/contract/tracker/v{VERSION}/openapi.json"

SIGNED: list[dict[str, list[str]]] = [{"webhookId": [], "webhookTimestamp": [], "webhookSignature": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": {"$ref": "#/components/responses/Invalid"},
    "401": {"$ref": "#/components/responses/Unsigned"},
    "429": {"$ref": "#/components/responses/RateLimited"},
}
KEY_PARAM = {
    "name": "key",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,49}-[0-9]{1,18}$"},
}
PAGING = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "`next_cursor` of a page"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
]

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "not_found, invalid, unauthorized, rate_limited, ...",
                    },
                    "message": {"type": "string", "description": "one line, shown to the organization"},
                },
            }
        },
    },
    "Status": {
        "type": "object",
        "required": ["name", "done"],
        "properties": {"name": {"type": "string"}, "done": {"type": "boolean"}},
    },
    "Description": {
        "type": "object",
        "required": ["contract", "id", "name", "statuses", "projects", "capabilities"],
        "properties": {
            "contract": {"type": "string", "enum": [VERSION]},
            "id": {"type": "string", "description": "this service's stable id"},
            "name": {"type": "string"},
            "url": {"type": "string", "description": "where people open the tracker"},
            "statuses": {
                "type": "array",
                "items": _ref("Status"),
                "minItems": 2,
                "description": "in workflow order; at least one done and one not done",
            },
            "projects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "name"],
                    "properties": {"key": {"type": "string"}, "name": {"type": "string"}},
                },
            },
            "capabilities": {
                "type": "array",
                "items": {"type": "string", "enum": ["changed_since", "webhooks"]},
            },
        },
    },
    "Person": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "string", "description": "stable"},
            "name": {"type": "string"},
            "email": {"type": ["string", "null"]},
        },
    },
    "Ticket": {
        "type": "object",
        "required": ["id", "key", "project", "url", "title", "status", "done", "assignee", "updated_at"],
        "properties": {
            "id": {"type": "string", "description": "stable: kept when the key changes"},
            "key": {"type": "string", "description": "<PROJECT>-<number>; the project is Conduit's scope"},
            "project": {"type": "string"},
            "url": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string", "description": "Markdown"},
            "status": {"type": "string"},
            "done": {"type": "boolean", "description": "whether the status means done"},
            "assignee": {"oneOf": [_ref("Person"), {"type": "null"}]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {
                "type": "string",
                "format": "date-time",
                "description": "strictly later after every change: Conduit orders changes by it",
            },
            "deleted": {"type": "boolean"},
            "labels": {"type": "array", "items": {"type": "string"}, "description": "as created"},
        },
    },
    "Tickets": {
        "type": "object",
        "required": ["tickets"],
        "properties": {"tickets": {"type": "array", "items": _ref("Ticket")}},
    },
    "TicketPage": {
        "type": "object",
        "required": ["tickets", "next_cursor"],
        "properties": {
            "tickets": {"type": "array", "items": _ref("Ticket")},
            "next_cursor": {"type": ["string", "null"], "description": "null on the last page"},
        },
    },
    "PeoplePage": {
        "type": "object",
        "required": ["people", "next_cursor"],
        "properties": {
            "people": {"type": "array", "items": _ref("Person")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Comment": {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "body": {"type": "string"},
        },
    },
    "Health": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}},
    "WebhookCreated": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
    "Delivery": {
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {
                "type": "string",
                "enum": [
                    "ticket.created",
                    "ticket.status_changed",
                    "ticket.assigned",
                    "ticket.commented",
                    "ticket.updated",
                    "ticket.deleted",
                ],
            },
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {
                "type": "object",
                "required": ["ticket"],
                "properties": {
                    "ticket": _ref("Ticket"),
                    "actor": {"type": ["string", "null"], "description": "the person's id"},
                    "previous": {"description": "ticket.status_changed: the status before", **_ref("Status")},
                    "comment": {"description": "ticket.commented", **_ref("Comment")},
                },
            },
        },
    },
}


def _operation(summary: str, ok: str, schema: str, **extra: Any) -> dict[str, Any]:
    status = extra.pop("status", "200")
    return {"summary": summary, "responses": {status: _json(_ref(schema), ok), **ERRORS}, **extra}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


PATHS: dict[str, Any] = {
    "/describe": {
        "get": _operation(
            "The service: statuses (which mean done), projects, capabilities. Called once at install.",
            "the description",
            "Description",
            operationId="describe",
        )
    },
    "/health": {
        "get": _operation("A cheap check that the service is up.", "up", "Health", operationId="health")
    },
    "/tickets": {
        "post": _operation(
            "Create a ticket. The same idempotency_key again answers 200 with the ticket made first.",
            "created",
            "Ticket",
            status="201",
            operationId="createTicket",
            requestBody=_body(
                {
                    "type": "object",
                    "required": ["project", "title", "idempotency_key"],
                    "properties": {
                        "project": {"type": "string"},
                        "title": {"type": "string", "maxLength": 500},
                        "description": {"type": "string", "description": "Markdown"},
                        "idempotency_key": {"type": "string", "maxLength": 200},
                        "labels": {
                            "type": "array",
                            "items": {"type": "string", "maxLength": 50},
                            "maxItems": 10,
                            "description": "Label names (optional): a service without labels ignores them",
                        },
                    },
                }
            ),
        ),
        "get": _operation(
            "Read tickets by key, up to 50 at once. Unknown keys are left out; deleted ones may come back "
            "with deleted: true.",
            "the tickets found",
            "Tickets",
            operationId="readTickets",
            parameters=[
                {
                    "name": "key",
                    "in": "query",
                    "required": True,
                    "explode": True,
                    "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
                }
            ],
        ),
    },
    "/tickets/{key}/status": {
        "post": _operation(
            "Change the status (one that describe lists).",
            "the ticket now",
            "Ticket",
            operationId="setStatus",
            parameters=[KEY_PARAM],
            requestBody=_body(
                {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
            ),
        )
    },
    "/tickets/{key}/assignee": {
        "post": _operation(
            "Assign to a person's id; null unassigns.",
            "the ticket now",
            "Ticket",
            operationId="setAssignee",
            parameters=[KEY_PARAM],
            requestBody=_body(
                {
                    "type": "object",
                    "required": ["assignee"],
                    "properties": {"assignee": {"type": ["string", "null"]}},
                }
            ),
        )
    },
    "/tickets/{key}/comments": {
        "post": _operation(
            "Add a comment (Markdown).",
            "added",
            "Comment",
            status="201",
            operationId="addComment",
            parameters=[KEY_PARAM],
            requestBody=_body(
                {"type": "object", "required": ["body"], "properties": {"body": {"type": "string"}}}
            ),
        )
    },
    "/people": {
        "get": _operation(
            "List or search people. `email` is an exact, case-insensitive match that finds a person even "
            "where lists hide addresses.",
            "a page of people",
            "PeoplePage",
            operationId="listPeople",
            parameters=[
                {"name": "email", "in": "query", "schema": {"type": "string"}},
                {"name": "query", "in": "query", "schema": {"type": "string"}},
                *PAGING,
            ],
        )
    },
    "/search": {
        "get": _operation(
            "Tickets of a project matching every word of q (title or description).",
            "a page of tickets",
            "TicketPage",
            operationId="searchTickets",
            parameters=[
                {"name": "project", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                *PAGING,
            ],
        )
    },
    "/changes": {
        "get": _operation(
            "Capability changed_since: tickets of a project updated at or after `since`, oldest first, "
            "deleted ones included.",
            "a page of tickets",
            "TicketPage",
            operationId="listChanges",
            parameters=[
                {"name": "project", "in": "query", "required": True, "schema": {"type": "string"}},
                {
                    "name": "since",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "format": "date-time"},
                },
                *PAGING,
            ],
        )
    },
    "/webhooks": {
        "post": _operation(
            "Capability webhooks: send the project's changes to url, as Standard Webhooks deliveries "
            "signed with secret (whsec_...).",
            "registered",
            "WebhookCreated",
            status="201",
            operationId="addWebhook",
            requestBody=_body(
                {
                    "type": "object",
                    "required": ["url", "secret"],
                    "properties": {
                        "url": {"type": "string"},
                        "secret": {"type": "string"},
                        "project": {"type": ["string", "null"]},
                    },
                }
            ),
        )
    },
    "/webhooks/{id}": {
        "delete": {
            "summary": "Stop a webhook.",
            "operationId": "removeWebhook",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "204": {"description": "removed"},
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Conduit in-house tracker contract",
        "version": VERSION,
        "description": (
            "The endpoints Conduit calls on a tracker service, at the base URL an app declares. "
            "Authentication: every request is signed with Standard Webhooks headers (webhook-id, "
            "webhook-timestamp, webhook-signature = v1,base64(HMAC-SHA256(key, id.timestamp.body))) under "
            "the shared whsec_ secret; the service refuses with 401 a request unsigned, signed with "
            "another key, more than 5 minutes from its clock, or whose webhook-id it has seen. Errors: "
            "the Error shape with the HTTP status (404 unknown ticket, 422 invalid input). Rate "
            "limiting: 429 with Retry-After in seconds. Pagination: pass next_cursor back as cursor "
            "until it is null. Answers within 10 seconds; Conduit counts a slower one as failed."
        ),
    },
    "security": SIGNED,
    "paths": PATHS,
    "webhooks": {
        "ticketChanged": {
            "post": {
                "summary": "A change made in the service, sent to the URL a webhook was registered with, "
                "signed with its secret as Standard Webhooks; webhook-id is the delivery's id.",
                "requestBody": _body(_ref("Delivery")),
                "responses": {"202": {"description": "taken"}},
            }
        }
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "webhookId": {"type": "apiKey", "in": "header", "name": "webhook-id"},
            "webhookTimestamp": {"type": "apiKey", "in": "header", "name": "webhook-timestamp"},
            "webhookSignature": {"type": "apiKey", "in": "header", "name": "webhook-signature"},
        },
        "responses": {
            "Invalid": _json(_ref("Error"), "the request is not valid"),
            "Unsigned": _json(_ref("Error"), "unsigned, wrongly signed, stale or replayed"),
            "NotFound": _json(_ref("Error"), "not there"),
            "RateLimited": {
                **_json(_ref("Error"), "slow down"),
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
            },
        },
    },
}

_BYTES = json.dumps(DOCUMENT, indent=2).encode()


async def _serve(request: Request) -> Response:
    return Response(_BYTES, media_type="application/json", headers={"Cache-Control": "public, max-age=3600"})


routes: list[BaseRoute] = [Route(CONTRACT_PATH, _serve, methods=["GET"])]


def schema(name: str) -> dict[str, Any]:
    """A component schema of the contract, for checking an answer against it."""
    found: dict[str, Any] = SCHEMAS[name]
    return found


def problems(value: Any, spec: dict[str, Any], where: str = "") -> list[str]:
    """Where `value` departs from `spec` (the subset of JSON Schema this document uses), in words."""
    if "$ref" in spec:
        return problems(value, SCHEMAS[spec["$ref"].rsplit("/", 1)[1]], where)
    if "oneOf" in spec:
        if any(not problems(value, option, where) for option in spec["oneOf"]):
            return []
        return [f"{where or 'the answer'} matches none of the shapes it may have"]
    kinds = spec.get("type")
    if kinds is not None:
        allowed = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is(value, kind) for kind in allowed):
            return [f"{where or 'the answer'} is {_name(value)}, not {' or '.join(allowed)}"]
    if "enum" in spec and value not in spec["enum"]:
        return [
            f"{where or 'the answer'} is {str(value)[:40]!r}, not one of {', '.join(map(str, spec['enum']))}"
        ]
    found: list[str] = []
    if isinstance(value, dict):
        for field in spec.get("required", []):
            if field not in value:
                found.append(f"{where + '.' if where else ''}{field} is missing")
        for field, sub in spec.get("properties", {}).items():
            if field in value:
                found += problems(value[field], sub, f"{where + '.' if where else ''}{field}")
    if isinstance(value, list):
        if len(value) < spec.get("minItems", 0):
            found.append(f"{where or 'the answer'} has fewer than {spec['minItems']} items")
        for index, item in enumerate(value[:100]):
            found += problems(item, spec.get("items", {}), f"{where}[{index}]")
    return found


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }.get(kind, True)


def _name(value: Any) -> str:
    return (
        "null"
        if value is None
        else {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
            type(value), type(value).__name__
        )
    )
