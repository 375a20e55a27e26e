"""Jira's data as the sandbox keeps it, and its JSON as REST API v3 shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conduit.connectors.jira.sandbox.adf import to_text


def jira_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
ISSUE_TYPES = {"10001": "Task", "10002": "Story", "10004": "Bug", "10003": "Epic"}


@dataclass
class User:
    account_id: str
    display_name: str
    email: str
    hide_email: bool = False


@dataclass
class Status:
    id: str
    name: str
    category: str


@dataclass
class Transition:
    id: str
    name: str
    to: Status


@dataclass
class Project:
    id: str
    key: str
    name: str
    statuses: list[Status]
    # Global transitions, one into each status, as in Jira's simplified workflows.
    transitions: list[Transition]
    next_number: int = 1

    def status_named(self, name: str) -> Status | None:
        return next((s for s in self.statuses if s.name.lower() == name.lower() or s.id == name), None)


@dataclass
class Comment:
    id: str
    body: dict[str, Any]
    author: str
    created: datetime
    updated: datetime


@dataclass
class Issue:
    id: str
    key: str
    project: str
    issuetype: str
    summary: str
    description: dict[str, Any] | None
    status: Status
    reporter: str
    created: datetime
    updated: datetime
    assignee: str | None = None
    labels: list[str] = field(default_factory=list)
    resolutiondate: datetime | None = None
    comments: list[Comment] = field(default_factory=list)
    deleted: bool = False


@dataclass
class Webhook:
    id: int
    url: str
    events: list[str]
    jql: str
    # Dynamic (OAuth app) webhooks expire and are signed with a JWT; admin ones may carry a secret.
    client_id: str | None
    expires_at: float | None
    secret: str | None = None
    name: str | None = None


class JqlView:
    """An issue as JQL sees it (see `jql.Target`)."""

    def __init__(self, issue: Issue, project: Project, users: dict[str, User]) -> None:
        self.issue = issue
        self.project = project
        self.users = users

    def values(self, name: str) -> list[str]:
        i = self.issue
        user_values = {"assignee": i.assignee, "reporter": i.reporter, "creator": i.reporter}
        if name in user_values:
            account = user_values[name]
            user = self.users.get(account or "")
            return [account, user.email, user.display_name] if user and account else []
        table: dict[str, list[str]] = {
            "project": [self.project.key, self.project.id, self.project.name],
            "key": [i.key, i.id],
            "id": [i.id, i.key],
            "status": [i.status.name, i.status.id],
            "statuscategory": [i.status.category, str(CATEGORIES[i.status.category]["name"])],
            "labels": i.labels,
            "issuetype": [i.issuetype, ISSUE_TYPES.get(i.issuetype, "")],
            "type": [i.issuetype, ISSUE_TYPES.get(i.issuetype, "")],
            "resolution": ["Done"] if i.status.category == "done" else [],
        }
        return table.get(name, [])

    def date(self, name: str) -> datetime | None:
        return {"updated": self.issue.updated, "created": self.issue.created}.get(
            name, self.issue.resolutiondate
        )

    def text(self, name: str) -> str:
        parts = {
            "summary": self.issue.summary,
            "description": to_text(self.issue.description),
            "comment": "\n".join(to_text(c.body) for c in self.issue.comments),
        }
        if name == "text":
            return "\n".join(parts.values())
        return parts.get(name, "")


class Render:
    def __init__(self, base: str, users: dict[str, User], projects: dict[str, Project]) -> None:
        self.base = base
        self.api = f"{base}/rest/api/3"
        self.users = users
        self.projects = projects

    def user(self, account_id: str | None) -> dict[str, Any] | None:
        if account_id is None:
            return None
        user = self.users.get(account_id)
        data: dict[str, Any] = {
            "self": f"{self.api}/user?accountId={account_id}",
            "accountId": account_id,
            "accountType": "atlassian",
            "displayName": user.display_name if user else account_id,
            "active": True,
            "timeZone": "UTC",
        }
        if user and not user.hide_email:
            data["emailAddress"] = user.email
        return data

    def status(self, status: Status) -> dict[str, Any]:
        category = CATEGORIES[status.category]
        return {
            "self": f"{self.api}/status/{status.id}",
            "id": status.id,
            "name": status.name,
            "statusCategory": {"self": f"{self.api}/statuscategory/{category['id']}", **category},
        }

    def project(self, project: Project) -> dict[str, Any]:
        return {
            "self": f"{self.api}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": True,
        }

    def transition(self, transition: Transition) -> dict[str, Any]:
        return {
            "id": transition.id,
            "name": transition.name,
            "to": self.status(transition.to),
            "hasScreen": False,
            "isGlobal": True,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
        }

    def comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        return {
            "self": f"{self.api}/issue/{issue.id}/comment/{comment.id}",
            "id": comment.id,
            "author": self.user(comment.author),
            "updateAuthor": self.user(comment.author),
            "body": comment.body,
            "created": jira_time(comment.created),
            "updated": jira_time(comment.updated),
            "jsdPublic": True,
        }

    def issue(self, issue: Issue, fields: set[str] | None = None) -> dict[str, Any]:
        project = self.projects[issue.project]
        done = issue.status.category == "done"
        all_fields: dict[str, Any] = {
            "summary": issue.summary,
            "description": issue.description,
            "status": self.status(issue.status),
            "issuetype": {"id": issue.issuetype, "name": ISSUE_TYPES.get(issue.issuetype, "Task")},
            "project": self.project(project),
            "assignee": self.user(issue.assignee),
            "reporter": self.user(issue.reporter),
            "creator": self.user(issue.reporter),
            "labels": issue.labels,
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "resolution": {"id": "10000", "name": "Done"} if done else None,
            "resolutiondate": jira_time(issue.resolutiondate),
            "comment": {
                "comments": [self.comment(issue, c) for c in issue.comments],
                "maxResults": len(issue.comments),
                "total": len(issue.comments),
                "startAt": 0,
            },
        }
        if fields is not None and "*all" not in fields and "*navigable" not in fields:
            all_fields = {k: v for k, v in all_fields.items() if k in fields}
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "self": f"{self.api}/issue/{issue.id}",
            "key": issue.key,
            "fields": all_fields,
        }
