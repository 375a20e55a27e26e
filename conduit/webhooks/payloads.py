"""The delivered body: a small envelope around one catalog event (its resources: conduit.events.resources)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from conduit.events.catalog import EVENT_TYPES

SYSTEM_ACTOR: dict[str, Any] = {"type": "system"}


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


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
