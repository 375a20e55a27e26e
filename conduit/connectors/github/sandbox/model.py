"""GitHub's data as the sandbox keeps it, and its JSON as the REST API shows it."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def github_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


DOCS = "https://docs.github.com/rest"


@dataclass
class User:
    id: int
    login: str
    name: str | None = None
    email: str | None = None
    # A private email is not shown and not found by user search, as on GitHub.
    public_email: bool = True


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    private: bool = False
    # Logins that can see a private repo; a public one is visible to everyone.
    collaborators: list[str] = field(default_factory=list)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def visible_to(self, login: str) -> bool:
        return not self.private or login == self.owner or login in self.collaborators


@dataclass
class Comment:
    id: int
    body: str
    user: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Issue:
    id: int
    number: int
    repo: str
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    assignees: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: str | None = None
    comments: list[Comment] = field(default_factory=list)
    pull_request: bool = False
    deleted: bool = False
    # Set once transferred to another repository: (its full name, the issue's number there).
    transferred_to: tuple[str, int] | None = None


@dataclass
class Hook:
    id: int
    repo: str
    url: str
    content_type: str
    secret: str | None
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime

    def wants(self, event: str) -> bool:
        return self.active and (event in self.events or "*" in self.events)


class Render:
    """JSON for each object; URLs follow the GitHub Enterprise Server layout under `base`."""

    def __init__(self, base: str, users: dict[str, User], repos: dict[str, Repo]) -> None:
        self.base = base
        self.api = f"{base}/api/v3"
        self.users = users
        self.repos = repos

    def user(self, login: str | None, full: bool = False) -> dict[str, Any] | None:
        if login is None:
            return None
        u = self.users.get(login) or User(id=0, login=login)
        data: dict[str, Any] = {
            "login": u.login,
            "id": u.id,
            "node_id": f"U_{u.id}",
            "avatar_url": f"{self.base}/avatars/{u.login}",
            "url": f"{self.api}/users/{u.login}",
            "html_url": f"{self.base}/{u.login}",
            "type": "User",
            "site_admin": False,
        }
        if full:
            data.update({"name": u.name, "email": u.email if u.public_email else None})
        return data

    def repo(self, repo: Repo) -> dict[str, Any]:
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": f"{self.base}/{repo.full_name}",
            "url": f"{self.api}/repos/{repo.full_name}",
        }

    def label(self, name: str) -> dict[str, Any]:
        return {"id": zlib.crc32(name.encode()), "name": name, "color": "ededed", "default": False}

    def issue(self, issue: Issue) -> dict[str, Any]:
        url = f"{self.api}/repos/{issue.repo}/issues/{issue.number}"
        kind = "pull" if issue.pull_request else "issues"
        data: dict[str, Any] = {
            "id": issue.id,
            "node_id": f"I_{issue.id}",
            "url": url,
            "repository_url": f"{self.api}/repos/{issue.repo}",
            "comments_url": f"{url}/comments",
            "html_url": f"{self.base}/{issue.repo}/{kind}/{issue.number}",
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "user": self.user(issue.user),
            "labels": [self.label(n) for n in issue.labels],
            "state": issue.state,
            "state_reason": issue.state_reason,
            "locked": False,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(a) for a in issue.assignees],
            "comments": len(issue.comments),
            "created_at": github_time(issue.created_at),
            "updated_at": github_time(issue.updated_at),
            "closed_at": github_time(issue.closed_at),
            "closed_by": self.user(issue.closed_by),
            "author_association": "OWNER",
        }
        if issue.pull_request:
            data["pull_request"] = {"url": f"{self.api}/repos/{issue.repo}/pulls/{issue.number}"}
        return data

    def comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "node_id": f"IC_{comment.id}",
            "url": f"{self.api}/repos/{issue.repo}/issues/comments/{comment.id}",
            "html_url": f"{self.base}/{issue.repo}/issues/{issue.number}#issuecomment-{comment.id}",
            "issue_url": f"{self.api}/repos/{issue.repo}/issues/{issue.number}",
            "body": comment.body,
            "user": self.user(comment.user),
            "created_at": github_time(comment.created_at),
            "updated_at": github_time(comment.updated_at),
            "author_association": "OWNER",
        }

    def hook(self, hook: Hook) -> dict[str, Any]:
        url = f"{self.api}/repos/{hook.repo}/hooks/{hook.id}"
        return {
            "type": "Repository",
            "id": hook.id,
            "name": "web",
            "active": hook.active,
            "events": hook.events,
            "config": {
                "url": hook.url,
                "content_type": hook.content_type,
                "insecure_ssl": "0",
                # GitHub never shows a secret back, only that one is set.
                **({"secret": "********"} if hook.secret else {}),
            },
            "updated_at": github_time(hook.updated_at),
            "created_at": github_time(hook.created_at),
            "url": url,
            "test_url": f"{url}/test",
            "ping_url": f"{url}/pings",
            "deliveries_url": f"{url}/deliveries",
        }
