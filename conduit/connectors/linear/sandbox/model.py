"""Linear's data as the sandbox keeps it, and how the API and webhooks show it.

The API resolves fields from the dicts `Render` builds (graphql-core reads a dict's keys, and calls
a callable value with the field's arguments, which is how connections page lazily); webhooks carry
the flatter `*WebhookPayload` shapes (`issue_payload`, `comment_payload`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_PAGE = 50
MAX_PAGE = 250
COLORS = {
    "triage": "#FC7840",
    "backlog": "#bec2c8",
    "unstarted": "#e2e2e2",
    "started": "#f2c94c",
    "completed": "#5e6ad2",
    "canceled": "#95a2b3",
}


def linear_time(value: datetime | None) -> str | None:
    """`2026-01-02T03:04:05.678Z`: Linear's DateTime, to the millisecond."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def slug(title: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return words[:60].rstrip("-") or "issue"


@dataclass
class User:
    id: str
    name: str
    display_name: str
    email: str
    admin: bool = False


@dataclass
class State:
    id: str
    name: str
    type: str
    position: float


@dataclass
class Team:
    id: str
    key: str
    name: str
    states: list[State]
    next_number: int = 1

    def state(self, id_or_name: str) -> State | None:
        return next((s for s in self.states if s.id == id_or_name or s.name == id_or_name), None)

    def default_state(self) -> State:
        return next((s for s in self.states if s.type == "backlog"), self.states[0])


@dataclass
class Comment:
    id: str
    body: str
    user: str
    created: datetime
    updated: datetime


@dataclass
class Attachment:
    id: str
    url: str
    title: str
    subtitle: str | None
    creator: str
    created: datetime
    updated: datetime


@dataclass
class Issue:
    id: str
    team: str  # the team's key
    number: int
    title: str
    description: str | None
    state: State
    creator: str
    created: datetime
    updated: datetime
    assignee: str | None = None
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    archived_at: datetime | None = None
    trashed: bool = False
    # Gone for good (deleted from the trash): reads find nothing.
    purged: bool = False
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    previous_identifiers: list[str] = field(default_factory=list)
    label_ids: list[str] = field(default_factory=list)

    @property
    def identifier(self) -> str:
        return f"{self.team}-{self.number}"


@dataclass
class Webhook:
    id: str
    url: str
    resource_types: list[str]
    team_id: str | None
    all_public_teams: bool
    secret: str | None
    label: str | None
    enabled: bool
    creator: str
    client_id: str | None
    created: datetime


@dataclass
class Organization:
    id: str
    name: str
    url_key: str


def connection(
    items: Sequence[T],
    render: Callable[[T], dict[str, Any]],
    cursor: Callable[[T], str],
    args: dict[str, Any],
) -> dict[str, Any]:
    """A Relay connection over `items` (already filtered and ordered): `first` (default 50, at most
    250) after the `after` cursor, or `last` before `before`."""
    first, last = args.get("first"), args.get("last")
    after, before = args.get("after"), args.get("before")
    ids = [cursor(i) for i in items]
    start = ids.index(after) + 1 if after in ids else 0
    end = ids.index(before) if before in ids else len(items)
    window = list(items[start:end])
    if last is not None and first is None:
        count = min(max(int(last), 0), MAX_PAGE)
        page, has_previous, has_next = window[-count:] if count else [], len(window) > count, end < len(items)
    else:
        count = min(max(int(first if first is not None else DEFAULT_PAGE), 0), MAX_PAGE)
        page, has_previous, has_next = window[:count], start > 0, len(window) > count
    nodes = [render(i) for i in page]
    edges = [{"node": n, "cursor": cursor(i)} for n, i in zip(nodes, page, strict=True)]
    return {
        "nodes": nodes,
        "edges": edges,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursor(page[0]) if page else None,
            "endCursor": cursor(page[-1]) if page else None,
        },
    }


@dataclass
class Label:
    """An issue label: the workspace's (no team) or one team's."""

    id: str
    name: str
    team: str | None = None  # the team's key


class Render:
    """The API's objects, as dicts graphql-core resolves fields from."""

    def __init__(
        self,
        base: str,
        organization: Organization,
        users: dict[str, User],
        teams: dict[str, Team],
        issues_of: Callable[[Team, dict[str, Any]], dict[str, Any]],
        labels: dict[str, Label] | None = None,
    ) -> None:
        self.base = base
        self.organization = organization
        self.users = users
        self.teams = teams
        self.issues_of = issues_of
        self.labels = labels if labels is not None else {}

    def label(self, label: Label) -> dict[str, Any]:
        team = self.teams.get(label.team or "")
        return {
            "id": label.id,
            "name": label.name,
            "team": {"id": team.id, "key": team.key, "name": team.name} if team else None,
        }

    @property
    def site(self) -> str:
        return f"{self.base}/{self.organization.url_key}"

    def user(self, user_id: str | None) -> dict[str, Any] | None:
        user = self.users.get(user_id or "")
        if user is None:
            return None
        return {
            "id": user.id,
            "name": user.name,
            "displayName": user.display_name,
            # Linear shows every member's email to the workspace.
            "email": user.email,
            "active": True,
            "admin": user.admin,
            "url": f"{self.site}/profiles/{user.display_name}",
            "organization": lambda info, **_: self.org(),
        }

    def org(self) -> dict[str, Any]:
        o = self.organization
        return {"id": o.id, "name": o.name, "urlKey": o.url_key}

    def state(self, state: State, team: Team) -> dict[str, Any]:
        return {
            "id": state.id,
            "name": state.name,
            "type": state.type,
            "position": state.position,
            "color": COLORS.get(state.type, "#bec2c8"),
            "team": lambda info, **_: self.team(team),
        }

    def team(self, team: Team) -> dict[str, Any]:
        return {
            "id": team.id,
            "key": team.key,
            "name": team.name,
            "states": lambda info, **args: connection(
                sorted(team.states, key=lambda s: s.position),
                lambda s: self.state(s, team),
                lambda s: s.id,
                args,
            ),
            "issues": lambda info, **args: self.issues_of(team, args),
        }

    def issue_url(self, issue: Issue) -> str:
        return f"{self.site}/issue/{issue.identifier}/{slug(issue.title)}"

    def issue(self, issue: Issue) -> dict[str, Any]:
        team = self.teams[issue.team]
        return {
            "id": issue.id,
            "identifier": issue.identifier,
            "number": float(issue.number),
            "title": issue.title,
            "description": issue.description,
            "url": self.issue_url(issue),
            "priority": 0.0,
            "createdAt": linear_time(issue.created),
            "updatedAt": linear_time(issue.updated),
            "completedAt": linear_time(issue.completed_at),
            "canceledAt": linear_time(issue.canceled_at),
            "archivedAt": linear_time(issue.archived_at),
            "trashed": issue.trashed or None,
            "previousIdentifiers": list(issue.previous_identifiers),
            "state": self.state(issue.state, team),
            "team": self.team(team),
            "assignee": self.user(issue.assignee),
            "creator": self.user(issue.creator),
            "comments": lambda info, **args: connection(
                issue.comments, lambda c: self.comment(issue, c), lambda c: c.id, args
            ),
            "attachments": lambda info, **args: connection(
                issue.attachments, lambda a: self.attachment(issue, a), lambda a: a.id, args
            ),
        }

    def comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "body": comment.body,
            "url": f"{self.issue_url(issue)}#comment-{comment.id[:8]}",
            "createdAt": linear_time(comment.created),
            "updatedAt": linear_time(comment.updated),
            "user": self.user(comment.user),
            "issue": lambda info, **_: self.issue(issue),
        }

    def attachment(self, issue: Issue, attachment: Attachment) -> dict[str, Any]:
        return {
            "id": attachment.id,
            "url": attachment.url,
            "title": attachment.title,
            "subtitle": attachment.subtitle,
            "createdAt": linear_time(attachment.created),
            "updatedAt": linear_time(attachment.updated),
            "issue": lambda info, **_: self.issue(issue),
        }

    def webhook(self, hook: Webhook) -> dict[str, Any]:
        team = next((t for t in self.teams.values() if t.id == hook.team_id), None)
        return {
            "id": hook.id,
            "url": hook.url,
            "label": hook.label,
            "enabled": hook.enabled,
            "resourceTypes": list(hook.resource_types),
            "allPublicTeams": hook.all_public_teams,
            # Linear never shows a webhook's secret once it is set.
            "secret": None,
            "createdAt": linear_time(hook.created),
            "team": self.team(team) if team else None,
            "creator": self.user(hook.creator),
        }

    # -- webhook payloads ----------------------------------------------------------------------------
    def user_payload(self, user_id: str | None) -> dict[str, Any] | None:
        user = self.users.get(user_id or "")
        if user is None:
            return None
        url = f"{self.site}/profiles/{user.display_name}"
        return {"id": user.id, "name": user.name, "email": user.email, "url": url}

    def issue_payload(self, issue: Issue) -> dict[str, Any]:
        team = self.teams[issue.team]
        state = issue.state
        return {
            "id": issue.id,
            "createdAt": linear_time(issue.created),
            "updatedAt": linear_time(issue.updated),
            "archivedAt": linear_time(issue.archived_at),
            "completedAt": linear_time(issue.completed_at),
            "canceledAt": linear_time(issue.canceled_at),
            "number": float(issue.number),
            "identifier": issue.identifier,
            "title": issue.title,
            "description": issue.description,
            "priority": 0.0,
            "priorityLabel": "No priority",
            "sortOrder": 0.0,
            "labelIds": list(issue.label_ids),
            "labels": [self.label(self.labels[i]) for i in issue.label_ids if i in self.labels],
            "subscriberIds": [issue.creator],
            "previousIdentifiers": list(issue.previous_identifiers),
            "reactionData": [],
            "trashed": issue.trashed or None,
            "teamId": team.id,
            "team": {"id": team.id, "key": team.key, "name": team.name},
            "stateId": state.id,
            "state": {"id": state.id, "name": state.name, "type": state.type, "color": COLORS[state.type]},
            "creatorId": issue.creator,
            "assigneeId": issue.assignee,
            "assignee": self.user_payload(issue.assignee),
            "url": self.issue_url(issue),
        }

    def comment_payload(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        team = self.teams[issue.team]
        return {
            "id": comment.id,
            "createdAt": linear_time(comment.created),
            "updatedAt": linear_time(comment.updated),
            "body": comment.body,
            "issueId": issue.id,
            "issue": {
                "id": issue.id,
                "identifier": issue.identifier,
                "title": issue.title,
                "teamId": team.id,
                "team": {"id": team.id, "key": team.key, "name": team.name},
                "url": self.issue_url(issue),
            },
            "userId": comment.user,
            "user": self.user_payload(comment.user),
            "reactionData": [],
        }
