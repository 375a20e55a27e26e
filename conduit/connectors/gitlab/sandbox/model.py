"""GitLab's data as the sandbox keeps it, and its JSON as REST v4 and the webhooks show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def rest_time(value: datetime | None) -> str | None:
    """REST shows milliseconds: `2026-01-02T03:04:05.678Z`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z" if value else None


def hook_time(value: datetime | None) -> str | None:
    """Webhooks show whole seconds: `2026-01-02T03:04:05Z`."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@dataclass
class User:
    id: int
    username: str
    name: str
    email: str
    # Only a public email is shown on the profile and found by user search (as for a non-admin).
    public_email: bool = True
    admin: bool = False


@dataclass
class Project:
    id: int
    path: str  # the full path, `group/subgroup/name`
    next_iid: int = 1

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def namespace(self) -> str:
        return self.path.rsplit("/", 1)[0]


@dataclass
class Note:
    id: int
    body: str
    author: int
    created_at: datetime
    updated_at: datetime
    # GitLab's own notes ("closed", "assigned to @x"), shown among the comments but never hooked.
    system: bool = False


@dataclass
class Issue:
    id: int  # global: what `moved_to_id` and GraphQL's gid name
    iid: int
    project_id: int
    title: str
    description: str | None
    author: int
    created_at: datetime
    updated_at: datetime
    state: str = "opened"
    assignees: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: int | None = None
    notes: list[Note] = field(default_factory=list)
    moved_to_id: int | None = None
    deleted: bool = False


@dataclass
class Hook:
    id: int
    project_id: int
    url: str
    token: str | None
    issues_events: bool
    note_events: bool
    confidential_issues_events: bool
    confidential_note_events: bool
    push_events: bool
    enable_ssl_verification: bool
    created_at: datetime

    def wants(self, event: str) -> bool:
        return (event == "Issue Hook" and self.issues_events) or (event == "Note Hook" and self.note_events)


class Render:
    """JSON for each object; web URLs under `base`, the API under `base/api/v4`."""

    def __init__(self, base: str, users: dict[int, User], projects: dict[int, Project]) -> None:
        self.base = base
        self.api = f"{base}/api/v4"
        self.users = users
        self.projects = projects

    def user(self, user_id: int | None, full: bool = False) -> dict[str, Any] | None:
        if user_id is None:
            return None
        u = self.users.get(user_id) or User(user_id, f"ghost-{user_id}", "Ghost User", "")
        data: dict[str, Any] = {
            "id": u.id,
            "username": u.username,
            "name": u.name,
            "state": "active",
            "locked": False,
            "avatar_url": f"{self.base}/uploads/-/system/user/avatar/{u.id}/avatar.png",
            "web_url": f"{self.base}/{u.username}",
        }
        if full:
            data["public_email"] = u.email if u.public_email else ""
        return data

    def me(self, user_id: int) -> dict[str, Any]:
        """`GET /user`: the token's own user sees their email whatever its visibility."""
        u = self.users[user_id]
        return {**(self.user(user_id, full=True) or {}), "email": u.email, "is_admin": u.admin}

    def hook_user(self, user_id: int) -> dict[str, Any]:
        u = self.users.get(user_id)
        data: dict[str, Any] = {
            "id": user_id,
            "name": u.name if u else "Ghost User",
            "username": u.username if u else f"ghost-{user_id}",
            "avatar_url": f"{self.base}/uploads/-/system/user/avatar/{user_id}/avatar.png",
        }
        # Webhooks hide a private email as GitLab does ("[REDACTED]").
        data["email"] = u.email if u and u.public_email else "[REDACTED]"
        return data

    def project(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "path": project.name,
            "path_with_namespace": project.path,
            "name_with_namespace": project.path.replace("/", " / "),
            "namespace": {"full_path": project.namespace, "path": project.namespace.rsplit("/", 1)[-1]},
            "web_url": f"{self.base}/{project.path}",
            "visibility": "private",
        }

    def hook_project(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "web_url": f"{self.base}/{project.path}",
            "namespace": project.namespace,
            "path_with_namespace": project.path,
            "default_branch": "main",
            "visibility_level": 0,
        }

    def issue_url(self, issue: Issue) -> str:
        return f"{self.base}/{self.projects[issue.project_id].path}/-/issues/{issue.iid}"

    def issue(self, issue: Issue) -> dict[str, Any]:
        project = self.projects[issue.project_id]
        api = f"{self.api}/projects/{project.id}/issues/{issue.iid}"
        assignees = [self.user(a) for a in issue.assignees]
        return {
            "id": issue.id,
            "iid": issue.iid,
            "project_id": project.id,
            "title": issue.title,
            "description": issue.description,
            "state": issue.state,
            "created_at": rest_time(issue.created_at),
            "updated_at": rest_time(issue.updated_at),
            "closed_at": rest_time(issue.closed_at),
            "closed_by": self.user(issue.closed_by),
            "labels": list(issue.labels),
            "milestone": None,
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "author": self.user(issue.author),
            "type": "ISSUE",
            "issue_type": "issue",
            "user_notes_count": sum(1 for n in issue.notes if not n.system),
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": None,
            "confidential": False,
            "discussion_locked": None,
            "web_url": self.issue_url(issue),
            "references": {
                "short": f"#{issue.iid}",
                "relative": f"#{issue.iid}",
                "full": f"{project.path}#{issue.iid}",
            },
            "moved_to_id": issue.moved_to_id,
            "severity": "UNKNOWN",
            "_links": {
                "self": api,
                "notes": f"{api}/notes",
                "award_emoji": f"{api}/award_emoji",
                "project": f"{self.api}/projects/{project.id}",
                "closed_as_duplicate_of": None,
            },
        }

    def hook_issue(self, issue: Issue) -> dict[str, Any]:
        """An issue's `hook_attrs`: the Issue Hook's `object_attributes`, the Note Hook's `issue`."""
        return {
            "id": issue.id,
            "iid": issue.iid,
            "project_id": issue.project_id,
            "title": issue.title,
            "description": issue.description,
            "state": issue.state,
            "state_id": 1 if issue.state == "opened" else 2,
            "author_id": issue.author,
            "assignee_ids": list(issue.assignees),
            "assignee_id": issue.assignees[0] if issue.assignees else None,
            "created_at": hook_time(issue.created_at),
            "updated_at": hook_time(issue.updated_at),
            "closed_at": hook_time(issue.closed_at),
            "moved_to_id": issue.moved_to_id,
            "confidential": False,
            "labels": [],
            "url": self.issue_url(issue),
        }

    def note(self, issue: Issue, note: Note) -> dict[str, Any]:
        return {
            "id": note.id,
            "type": None,
            "body": note.body,
            "author": self.user(note.author),
            "created_at": rest_time(note.created_at),
            "updated_at": rest_time(note.updated_at),
            "system": note.system,
            "noteable_id": issue.id,
            "noteable_type": "Issue",
            "noteable_iid": issue.iid,
            "project_id": issue.project_id,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }

    def hook(self, hook: Hook) -> dict[str, Any]:
        # GitLab never shows the secret token back.
        return {
            "id": hook.id,
            "url": hook.url,
            "project_id": hook.project_id,
            "issues_events": hook.issues_events,
            "confidential_issues_events": hook.confidential_issues_events,
            "note_events": hook.note_events,
            "confidential_note_events": hook.confidential_note_events,
            "push_events": hook.push_events,
            "enable_ssl_verification": hook.enable_ssl_verification,
            "created_at": rest_time(hook.created_at),
            "alert_status": "executable",
        }
