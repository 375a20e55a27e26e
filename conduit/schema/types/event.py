from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from conduit import ids
from conduit.db import models
from conduit.schema.context import Info
from conduit.schema.types.node import Node

if TYPE_CHECKING:
    from conduit.schema.types.issue import Issue


@strawberry.type
class Tag:
    key: str
    value: str


@strawberry.type
class Frame:
    filename: str | None
    function: str | None
    module: str | None
    lineno: int | None
    in_app: bool


@strawberry.type(description="One exception of a chain; the last one is the one that was raised.")
class ExceptionValue:
    type: str | None
    value: str | None
    module: str | None
    stacktrace: list[Frame]


def _frames(raw: Any) -> list[Frame]:
    out = []
    frames = raw.get("frames") if isinstance(raw, dict) else None
    for f in frames if isinstance(frames, list) else []:
        if isinstance(f, dict):
            lineno = f.get("lineno")
            out.append(
                Frame(
                    filename=f.get("filename") or f.get("abs_path"),
                    function=f.get("function"),
                    module=f.get("module"),
                    lineno=lineno if isinstance(lineno, int) else None,
                    in_app=bool(f.get("in_app")),
                )
            )
    return out


def _exceptions(data: dict[str, Any]) -> list[ExceptionValue]:
    section = data.get("exception")
    values = section.get("values") if isinstance(section, dict) else None
    return [
        ExceptionValue(
            type=v.get("type"),
            value=v.get("value"),
            module=v.get("module"),
            stacktrace=_frames(v.get("stacktrace")),
        )
        for v in (values if isinstance(values, list) else [])
        if isinstance(v, dict)
    ]


@strawberry.type(description="One occurrence of an error.")
class Event(Node):
    event_id: str = strawberry.field(description="The id the SDK gave the event (32 hex characters).")
    timestamp: datetime
    received_at: datetime
    platform: str
    level: str
    message: str
    exception_type: str | None
    exception_value: str | None
    release: str | None
    environment: str | None
    tags: list[Tag]
    exceptions: list[ExceptionValue] = strawberry.field(description="The exception chain, raised one last.")
    issue_pk: strawberry.Private[int]

    @strawberry.field
    async def issue(
        self, info: Info
    ) -> Annotated[Issue, strawberry.lazy("conduit.schema.types.issue")] | None:
        from conduit.schema.types.issue import Issue

        row = await info.context.loaders.issue.load(self.issue_pk)
        return Issue.from_model(row) if row else None

    @strawberry.field(description="Frames of the raised exception, innermost last.")
    def stacktrace(self) -> list[Frame]:
        return self.exceptions[-1].stacktrace if self.exceptions else []

    @classmethod
    def from_model(cls, e: models.Event) -> Event:
        return cls(
            id=strawberry.ID(ids.encode("Event", e.id)),
            event_id=e.event_id,
            timestamp=e.timestamp,
            received_at=e.received_at,
            platform=e.platform,
            level=e.level,
            message=e.message,
            exception_type=e.exception_type,
            exception_value=e.exception_value,
            release=e.release,
            environment=e.environment,
            tags=[Tag(key=str(k), value=str(v)) for k, v in (e.tags or {}).items()],
            exceptions=_exceptions(e.data or {}),
            issue_pk=e.issue_id,
        )
