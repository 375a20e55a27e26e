"""The delivered body: a small envelope around one catalog event, and the resources it carries."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from conduit.db import models
from conduit.events.catalog import EVENT_TYPES
from conduit.ids import encode

SYSTEM_ACTOR: dict[str, Any] = {"type": "system"}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def envelope(
    event_type: str,
    data: dict[str, Any],
    *,
    timestamp: datetime,
    actor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"type", "version", "timestamp", "data", "actor"}` for one event.

    `data` is checked against the top-level shape its schema requires, so a caller that forgot a
    resource finds out here rather than from an integrator's bug report.
    """
    kind = EVENT_TYPES.get(event_type)
    if kind is None:
        raise ValueError(f"unknown event type {event_type!r}; see conduit.events.catalog")
    if timestamp.tzinfo is None:
        raise ValueError("the event timestamp must carry a time zone")
    required = set(kind.data.get("required", ()))
    allowed = set(kind.data.get("properties", {}))
    if missing := sorted(required - data.keys()):
        raise ValueError(f"{event_type} data lacks {', '.join(missing)}")
    if unknown := sorted(data.keys() - allowed):
        raise ValueError(f"{event_type} data has unexpected key(s) {', '.join(unknown)}")
    return {
        "type": event_type,
        "version": kind.version,
        "timestamp": _time(timestamp),
        "data": data,
        "actor": actor or SYSTEM_ACTOR,
    }


def encode_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed; compact JSON, keys in a stable order."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def message_id(event_key: str, endpoint_key: str) -> str:
    """The `webhook-id` of one event sent to one endpoint: the same on every retry and redelivery,
    so receivers can deduplicate on it."""
    digest = hashlib.sha256(f"{event_key}\x00{endpoint_key}".encode()).digest()[:16]
    return "msg_" + base64.b32encode(digest).decode().rstrip("=").lower()


def issue_resource(issue: models.Issue) -> dict[str, Any]:
    return {
        "id": encode("Issue", issue.id),
        "project_id": encode("Project", issue.project_id),
        "title": issue.title,
        "culprit": issue.culprit,
        "level": issue.level,
        "status": str(issue.status),
        "count": issue.times_seen,
        "first_seen": _time(issue.first_seen),
        "last_seen": _time(issue.last_seen),
        "resolved_at": _time(issue.resolved_at),
        "assignee_id": None if issue.assignee_id is None else encode("Member", issue.assignee_id),
    }


def event_resource(event: models.Event) -> dict[str, Any]:
    return {
        "id": encode("Event", event.id),
        "event_id": event.event_id,
        "issue_id": encode("Issue", event.issue_id),
        "project_id": encode("Project", event.project_id),
        "timestamp": _time(event.timestamp),
        "received_at": _time(event.received_at),
        "platform": event.platform,
        "level": event.level,
        "message": event.message,
        "exception_type": event.exception_type,
        "exception_value": event.exception_value,
        "release": event.release,
        "environment": event.environment,
        "tags": dict(event.tags or {}),
    }
