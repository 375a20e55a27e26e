"""The one event catalog that feeds webhooks and subscriptions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    version: int
    description: str


EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType("issue.created", 1, "A new issue was grouped from its first event."),
        EventType("issue.resolved", 1, "An issue was marked resolved."),
        EventType("issue.unresolved", 1, "A resolved or ignored issue was reopened."),
        EventType("issue.ignored", 1, "An issue was ignored."),
        EventType("issue.assigned", 1, "An issue's assignee changed."),
        EventType("event.created", 1, "An event was stored and grouped into an issue."),
    )
}
