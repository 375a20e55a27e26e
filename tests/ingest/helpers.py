"""Building SDK-shaped requests and reading back what ingest stored."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import select

from conduit.db.models import Event, Issue, OutboxRow
from conduit.runtime import Runtime


def new_event_id() -> str:
    return uuid.uuid4().hex


def sentry_auth(key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=test/1.0"}


def envelope(*items: tuple[dict[str, Any], bytes], header: dict[str, Any] | None = None) -> bytes:
    lines = [orjson.dumps(header or {})]
    for item_header, payload in items:
        lines.append(orjson.dumps(item_header))
        lines.append(payload)
    return b"\n".join(lines) + b"\n"


def event_envelope(event: dict[str, Any], header: dict[str, Any] | None = None) -> bytes:
    payload = orjson.dumps(event)
    item = {"type": "event", "length": len(payload)}
    return envelope((item, payload), header={"event_id": event.get("event_id"), **(header or {})})


def frame(module: str, function: str, lineno: int = 10, in_app: bool = True) -> dict[str, Any]:
    return {
        "module": module,
        "function": function,
        "filename": module.replace(".", "/") + ".py",
        "lineno": lineno,
        "in_app": in_app,
    }


def exception_event(
    type_: str = "ValueError",
    value: str = "bad value",
    frames: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    frames = frames if frames is not None else [frame("app.main", "run"), frame("app.views", "handler")]
    return {
        "event_id": new_event_id(),
        "platform": "python",
        "level": "error",
        "exception": {"values": [{"type": type_, "value": value, "stacktrace": {"frames": frames}}]},
        **extra,
    }


async def issues_of(runtime: Runtime, project_id: int) -> list[Issue]:
    async with runtime.sessions() as s:
        rows = await s.execute(select(Issue).where(Issue.project_id == project_id).order_by(Issue.id))
        return list(rows.scalars())


async def events_of(runtime: Runtime, project_id: int) -> list[Event]:
    async with runtime.sessions() as s:
        rows = await s.execute(select(Event).where(Event.project_id == project_id).order_by(Event.id))
        return list(rows.scalars())


async def outbox_of(runtime: Runtime, organization_id: int) -> list[OutboxRow]:
    async with runtime.sessions() as s:
        stmt = select(OutboxRow).where(OutboxRow.organization_id == organization_id).order_by(OutboxRow.id)
        return list((await s.execute(stmt)).scalars())
