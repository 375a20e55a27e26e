"""The Shortcut sandbox's records and how the v3 API renders them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATE_TYPES = ("backlog", "unstarted", "started", "done")


def sc_time(value: datetime | None) -> str | None:
    """Shortcut's timestamps: UTC, ISO 8601 with a `Z`."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class Member:
    id: str
    name: str
    mention_name: str
    email: str
    email_shown: bool = True
    role: str = "member"
    disabled: bool = False
    created_at: datetime | None = None


@dataclass
class State:
    id: int
    name: str
    type: str
    position: int


@dataclass
class Workflow:
    id: int
    name: str
    states: list[State]
    team_id: int | None = None

    @property
    def default_state(self) -> State:
        """Where a story starts: the first unstarted state (else the first one)."""
        return next((s for s in self.states if s.type == "unstarted"), self.states[0])


@dataclass
class Group:
    id: str
    name: str
    mention_name: str
    workflow_ids: list[int]
    member_ids: list[str] = field(default_factory=list)


@dataclass
class Comment:
    id: int
    text: str
    author_id: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Story:
    id: int
    name: str
    description: str
    story_type: str
    workflow_id: int
    workflow_state_id: int
    requested_by_id: str
    created_at: datetime
    updated_at: datetime
    group_id: str | None = None
    owner_ids: list[str] = field(default_factory=list)
    external_links: list[str] = field(default_factory=list)
    # The workspace's labels on the story: (id, name).
    labels: list[tuple[int, str]] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    archived: bool = False
    deleted: bool = False


@dataclass
class Webhook:
    id: int
    url: str
    secret: str | None
    creator_id: str
    created_at: datetime
    disabled: bool = False


@dataclass
class Workspace:
    id: str
    name: str
    url_slug: str
    default_workflow_id: int
    created_at: datetime


@dataclass
class Render:
    """JSON as Shortcut's v3 API shows it; `app` is where people open things (the sandbox's URL)."""

    app: str
    workspace: Workspace
    states: dict[int, State]

    def story_url(self, story_id: int) -> str:
        return f"{self.app}/{self.workspace.url_slug}/story/{story_id}"

    def member(self, m: Member) -> dict[str, Any]:
        return {
            "entity_type": "member",
            "id": m.id,
            "role": m.role,
            "disabled": m.disabled,
            "created_at": sc_time(m.created_at),
            "updated_at": sc_time(m.created_at),
            "profile": {
                "entity_type": "profile",
                "id": m.id,
                "name": m.name,
                "mention_name": m.mention_name,
                # A member who keeps their email private is listed without it.
                "email_address": m.email if m.email_shown else None,
                "deactivated": m.disabled,
            },
        }

    def member_info(self, m: Member) -> dict[str, Any]:
        w = self.workspace
        return {
            "id": m.id,
            "name": m.name,
            "mention_name": m.mention_name,
            "role": m.role,
            "is_owner": m.role == "owner",
            "workspace2": {
                "id": w.id,
                "name": w.name,
                "url_slug": w.url_slug,
                "default_workflow_id": w.default_workflow_id,
                "estimate_scale": [0, 1, 2, 4, 8],
                "created_at": sc_time(w.created_at),
                "utc_offset": "+00:00",
            },
            "organization2": {"id": w.id},
        }

    def state(self, s: State) -> dict[str, Any]:
        return {
            "entity_type": "workflow-state",
            "id": s.id,
            "name": s.name,
            "type": s.type,
            "position": s.position,
        }

    def workflow(self, w: Workflow) -> dict[str, Any]:
        return {
            "entity_type": "workflow",
            "id": w.id,
            "name": w.name,
            "team_id": w.team_id,
            "default_state_id": w.default_state.id,
            "states": [self.state(s) for s in w.states],
            "project_ids": [],
        }

    def group(self, g: Group) -> dict[str, Any]:
        return {
            "entity_type": "group",
            "id": g.id,
            "name": g.name,
            "mention_name": g.mention_name,
            "workflow_ids": list(g.workflow_ids),
            "member_ids": list(g.member_ids),
            "archived": False,
            "app_url": f"{self.app}/{self.workspace.url_slug}/settings/team/{g.id}",
        }

    def story(self, s: Story, slim: bool = False) -> dict[str, Any]:
        state = self.states[s.workflow_state_id]
        data: dict[str, Any] = {
            "entity_type": "story",
            "id": s.id,
            "name": s.name,
            "app_url": self.story_url(s.id),
            "story_type": s.story_type,
            "workflow_id": s.workflow_id,
            "workflow_state_id": s.workflow_state_id,
            "group_id": s.group_id,
            "project_id": None,
            "epic_id": None,
            "iteration_id": None,
            "owner_ids": list(s.owner_ids),
            "follower_ids": list(dict.fromkeys([s.requested_by_id, *s.owner_ids])),
            "requested_by_id": s.requested_by_id,
            "external_links": list(s.external_links),
            "label_ids": [i for i, _ in s.labels],
            "labels": [{"entity_type": "label", "id": i, "name": n} for i, n in s.labels],
            "archived": s.archived,
            "started": state.type in ("started", "done"),
            "started_at": sc_time(s.started_at),
            "completed": state.type == "done",
            "completed_at": sc_time(s.completed_at),
            "created_at": sc_time(s.created_at),
            "updated_at": sc_time(s.updated_at),
            "estimate": None,
            "deadline": None,
        }
        if slim:
            data["comment_ids"] = [c.id for c in s.comments]
        else:
            data["description"] = s.description
            data["comments"] = [self.comment(s, c) for c in s.comments]
        return data

    def comment(self, s: Story, c: Comment) -> dict[str, Any]:
        return {
            "entity_type": "story-comment",
            "id": c.id,
            "story_id": s.id,
            "text": c.text,
            "author_id": c.author_id,
            "app_url": f"{self.story_url(s.id)}#activity-{c.id}",
            "created_at": sc_time(c.created_at),
            "updated_at": sc_time(c.updated_at),
            "deleted": False,
        }

    def webhook(self, h: Webhook) -> dict[str, Any]:
        return {
            "entity_type": "integration",
            "id": h.id,
            "type": "generic",
            "webhook_url": h.url,
            "has_secret": h.secret is not None,
            "disabled": h.disabled,
            "creator_id": h.creator_id,
            "created_at": sc_time(h.created_at),
            "updated_at": sc_time(h.created_at),
        }
