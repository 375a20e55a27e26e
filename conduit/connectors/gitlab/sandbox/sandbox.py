"""The GitLab sandbox: state, the operations on it (shared by the API and the person controls), webhooks."""

from __future__ import annotations

import json
import re
import uuid
from email.utils import formatdate
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute

from conduit.connectors.gitlab.sandbox.model import Hook, Issue, Note, Project, Render, User, rest_time
from conduit.connectors.sandbox.control import ControlError
from conduit.connectors.sandbox.core import ApiError, Sandbox
from conduit.connectors.sandbox.faults import Fault
from conduit.connectors.sandbox.oauth import TokenPolicy
from conduit.connectors.sandbox.state import Stamp
from conduit.connectors.sandbox.webhooks import Delivery

POLICIES = {
    # Access tokens live 2 h; refresh tokens do not expire, but each works once: a refresh ends the
    # old access token and the old refresh token.
    "oauth_app": TokenPolicy("", 7200, "", None),
    # The same tokens, from a version whose token replies leave `expires_in` out.
    "legacy": TokenPolicy("", 7200, "", None),
}
DEFAULT_CLIENTS = {
    "sandbox-gitlab-app": ("sandbox-gitlab-app-secret", "oauth_app"),
    "sandbox-gitlab-legacy": ("sandbox-gitlab-legacy-secret", "legacy"),
}
# GitLab.com's limit for authenticated API calls: 2,000 a minute per user.
RATE_LIMIT = 2000
RATE_WINDOW = 60.0
VERSION = "17.6.0"


class GitLabSandbox(Sandbox):
    name = "gitlab"
    client = ("sandbox-gitlab-app", "sandbox-gitlab-app-secret")
    # No signature: the hook's secret token travels as is.
    signature_headers = ("X-Gitlab-Token",)

    def __init__(
        self,
        projects: tuple[str, ...] = ("acme/widgets", "acme/platform/api"),
        users: tuple[str, ...] = ("ada", "grace", "linus"),
        seed: str = "gitlab",
        rate_limit: int = RATE_LIMIT,
    ) -> None:
        super().__init__(seed, POLICIES, user=users[0])
        # Who acts "in GitLab" through the control API unless told otherwise; not the OAuth user, so a
        # person's change is never mistaken for one the integration made.
        self.human = users[-1]
        self.users: dict[int, User] = {}
        self.projects: dict[int, Project] = {}
        self.issues: dict[int, Issue] = {}
        self.hooks: dict[int, Hook] = {}
        self.rate_limit = rate_limit
        self.rate_window = RATE_WINDOW
        self._budgets: dict[int, tuple[float, int]] = {}
        # Whole seconds, as webhooks show them: two changes never share a time.
        self._stamp = Stamp(self.clock, 1.0)
        for username in users:
            self.add_user(username)
        for path in projects:
            self.add_project(path)
        for client_id, (secret, mode) in DEFAULT_CLIENTS.items():
            self.oauth.add_client(client_id, secret, mode)

    # -- tracker hooks -------------------------------------------------------------------------------
    def api_routes(self) -> list[BaseRoute]:
        from conduit.connectors.gitlab.sandbox.api import routes

        return routes()

    def control_routes(self) -> list[BaseRoute]:
        from conduit.connectors.gitlab.sandbox.control import routes

        return routes()

    def error_response(self, error: ApiError) -> Response:
        """`{"message": "404 Issue Not Found"}`; `errors`, when given, is the whole body: a field map
        under `message`, Grape's `{"error": "title is missing"}`, or OAuth's `invalid_token`."""
        body = error.errors if isinstance(error.errors, dict) else {"message": error.message}
        return JSONResponse(body, error.status, headers=error.headers)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            # Rack::Attack answers in plain text.
            reset = int(self.clock.time()) + fault.retry_after
            headers = self._limit_headers(self.rate_limit, reset) | {"retry-after": str(fault.retry_after)}
            return PlainTextResponse("Retry later\n", 429, headers=headers)
        if fault.kind == "timeout":
            return self.error_response(ApiError(504, "504 Gateway Timeout"))
        return self.error_response(ApiError(fault.status, f"{fault.status} Internal Server Error"))

    def knows_user(self, user: str) -> bool:
        return self.find_user(user) is not None

    def find_user(self, user: str | int) -> User | None:
        """A user by id (as the API names them) or by username (as the controls may)."""
        if isinstance(user, int) or user.isdigit():
            return self.users.get(int(user))
        return next((u for u in self.users.values() if u.username == user), None)

    def user_id(self, user: str) -> int:
        found = self.find_user(user)
        if found is None:
            raise ControlError(f"unknown user {user!r}")
        return found.id

    @property
    def render(self) -> Render:
        return Render(self.url, self.users, self.projects)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            r = self.render
            return {
                "users": [r.user(u, full=True) for u in self.users],
                "projects": [r.project(p) for p in self.projects.values()],
                "issues": [r.issue(i) | {"deleted": i.deleted} for i in self.issues.values()],
                "hooks": [r.hook(h) for h in self.hooks.values()],
                "oauth": self.oauth.snapshot(),
            }

    def scopes(self) -> list[str]:
        return [p.path for p in self.projects.values()]

    # -- a person at the tracker ---------------------------------------------------------------------
    def ticket_of(self, key: str, gone_too: bool = False) -> tuple[Project, Issue]:
        """`group/project#iid` → its project and issue (404 when there is none, or it was deleted)."""
        path, _, iid = key.rpartition("#")
        project = self.project_by_path(path)
        issue = self.issue_in(project, int(iid)) if project is not None and iid.isdigit() else None
        if project is None or issue is None or (issue.deleted and not gone_too):
            raise ControlError(f"no issue {key} (or it was deleted)", 404)
        return project, issue

    def add_person(self, name: str, email: str, email_shown: bool) -> str:
        username = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "someone"
        return str(self.add_user(username, name, email, email_shown).id)

    def ticket_json(self, key: str) -> dict[str, Any]:
        return self.render.issue(self.ticket_of(key, gone_too=True)[1])

    def close_ticket(self, key: str, actor: str) -> None:
        project, issue = self.ticket_of(key)
        self.update_issue(project, issue, self.user_id(actor), {"state_event": "close"})

    def reopen_ticket(self, key: str, actor: str) -> None:
        project, issue = self.ticket_of(key)
        self.update_issue(project, issue, self.user_id(actor), {"state_event": "reopen"})

    def comment_ticket(self, key: str, actor: str, text: str) -> None:
        project, issue = self.ticket_of(key)
        self.add_note(project, issue, self.user_id(actor), text)

    def assign_ticket(self, key: str, actor: str, account: str | None) -> None:
        project, issue = self.ticket_of(key)
        ids = [self.user_id(account)] if account else []
        self.update_issue(project, issue, self.user_id(actor), {"assignee_ids": ids})

    def delete_ticket(self, key: str, actor: str) -> None:
        self.delete_issue(self.ticket_of(key)[1])

    def move_ticket(self, key: str, actor: str, scope: str) -> str:
        project, issue = self.ticket_of(key)
        target = self.project_by_path(scope)
        if target is None:
            raise ControlError(f"no project {scope}", 404)
        try:
            moved = self.move_issue(project, issue, target, self.user_id(actor))
        except ApiError as exc:
            raise ControlError(str(exc.errors or exc.message)) from None
        return f"{target.path}#{moved.iid}"

    # -- directory -----------------------------------------------------------------------------------
    def add_user(
        self,
        username: str,
        name: str | None = None,
        email: str | None = None,
        public_email: bool = True,
        admin: bool = False,
    ) -> User:
        """Create a user, or update the name and email of an existing one (its id stays)."""
        with self.lock:
            user = self.find_user(username) if not username.isdigit() else None
            if user is None:
                user = User(self.ids.next("user"), username, username.title(), f"{username}@example.com")
                self.users[user.id] = user
            user.name = name or user.name
            user.email = email or user.email
            user.public_email = public_email
            user.admin = admin or user.admin
            return user

    def add_project(self, path: str) -> Project:
        parts = path.strip("/").split("/")
        if len(parts) < 2 or not all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", p) for p in parts):
            raise ValueError(f"a project is named by its full path, group/name, got {path!r}")
        with self.lock:
            if self.project_by_path(path) is not None:
                raise ValueError(f"the project {path} already exists")
            project = Project(self.ids.next("project", 100), "/".join(parts))
            self.projects[project.id] = project
            return project

    def project_by_path(self, path: str) -> Project | None:
        wanted = path.strip("/").lower()
        return next((p for p in self.projects.values() if p.path.lower() == wanted), None)

    def project_for(self, ref: str) -> Project:
        """`:id` of a path: a numeric id, or the URL-encoded full path (already decoded here)."""
        project = self.projects.get(int(ref)) if ref.isdigit() else self.project_by_path(ref)
        if project is None:
            raise ApiError(404, "404 Project Not Found")
        return project

    def issue_in(self, project: Project, iid: int) -> Issue | None:
        return next((i for i in self.issues.values() if i.project_id == project.id and i.iid == iid), None)

    def issue_for(self, project: Project, iid: int) -> Issue:
        issue = self.issue_in(project, iid)
        if issue is None or issue.deleted:
            raise ApiError(404, "404 Issue Not Found")
        return issue

    # -- rate limit ----------------------------------------------------------------------------------
    def _limit_headers(self, used: int, reset: int) -> dict[str, str]:
        return {
            "ratelimit-limit": str(self.rate_limit),
            "ratelimit-observed": str(used),
            "ratelimit-remaining": str(max(self.rate_limit - used, 0)),
            "ratelimit-reset": str(reset),
            "ratelimit-resettime": formatdate(reset, usegmt=True),
        }

    def budget(self, user_id: int, consume: bool) -> dict[str, str]:
        now = self.clock.time()
        with self.lock:
            start, used = self._budgets.get(user_id, (now, 0))
            if now >= start + self.rate_window:
                start, used = now, 0
            if consume:
                used += 1
            self._budgets[user_id] = (start, used)
        return self._limit_headers(used, int(start + self.rate_window))

    def reset_budgets(self) -> None:
        with self.lock:
            self._budgets.clear()

    # -- operations ----------------------------------------------------------------------------------
    def _check_users(self, ids: list[int]) -> None:
        if any(i not in self.users for i in ids):
            raise ApiError(404, "404 User Not Found")

    def create_issue(
        self,
        project: Project,
        actor: int,
        title: str,
        description: str | None = None,
        assignees: list[int] | None = None,
        labels: list[str] | None = None,
    ) -> Issue:
        with self.lock:
            self._check_users(assignees or [])
            stamp = self._stamp.next()
            issue = Issue(
                id=self.ids.next("issue", 1_000_001),
                iid=project.next_iid,
                project_id=project.id,
                title=title,
                description=description,
                author=actor,
                created_at=stamp,
                updated_at=stamp,
                assignees=list(dict.fromkeys(assignees or [])),
                labels=list(dict.fromkeys(labels or [])),
            )
            project.next_iid += 1
            self.issues[issue.id] = issue
            self.emit_issue(project, issue, "open", {}, actor)
            return issue

    def update_issue(self, project: Project, issue: Issue, actor: int, changes: dict[str, Any]) -> Issue:
        """Apply a PUT body (already validated): one Issue Hook for the whole update, as GitLab sends,
        with `action` close, reopen or update and what changed under `changes`."""
        with self.lock:
            r = self.render
            hook_changes: dict[str, Any] = {}
            system: list[str] = []
            action = "update"
            for key in ("title", "description"):
                if key in changes and changes[key] != getattr(issue, key):
                    hook_changes[key] = {"previous": getattr(issue, key), "current": changes[key]}
                    setattr(issue, key, changes[key])
            event = changes.get("state_event")
            if event == "close" and issue.state == "opened":
                issue.state, issue.closed_at, issue.closed_by = "closed", self.clock.now(), actor
                hook_changes["state_id"] = {"previous": 1, "current": 2}
                action = "close"
                system.append("closed")
            elif event == "reopen" and issue.state == "closed":
                issue.state, issue.closed_at, issue.closed_by = "opened", None, None
                hook_changes["state_id"] = {"previous": 2, "current": 1}
                action = "reopen"
                system.append("reopened")
            if "assignee_ids" in changes:
                new = list(dict.fromkeys(changes["assignee_ids"]))
                self._check_users(new)
                if new != issue.assignees:
                    hook_changes["assignees"] = {
                        "previous": [r.hook_user(a) for a in issue.assignees],
                        "current": [r.hook_user(a) for a in new],
                    }
                    gone = [a for a in issue.assignees if a not in new]
                    added = [a for a in new if a not in issue.assignees]
                    if gone:
                        system.append("unassigned " + ", ".join(f"@{self.users[a].username}" for a in gone))
                    if added:
                        system.append("assigned to " + ", ".join(f"@{self.users[a].username}" for a in added))
                    issue.assignees = new
            if "labels" in changes and changes["labels"] != issue.labels:
                hook_changes["labels"] = {"previous": issue.labels, "current": changes["labels"]}
                issue.labels = list(changes["labels"])
            if not hook_changes:
                return issue
            before = issue.updated_at
            issue.updated_at = self._stamp.next()
            hook_changes["updated_at"] = {
                "previous": rest_time(before),
                "current": rest_time(issue.updated_at),
            }
            for text in system:
                issue.notes.append(
                    Note(
                        self.ids.next("note", 5_000_001),
                        text,
                        actor,
                        issue.updated_at,
                        issue.updated_at,
                        True,
                    )
                )
            self.emit_issue(project, issue, action, hook_changes, actor)
            return issue

    def add_note(self, project: Project, issue: Issue, actor: int, body: str) -> Note:
        with self.lock:
            stamp = self._stamp.next()
            note = Note(self.ids.next("note", 5_000_001), body, actor, stamp, stamp)
            issue.notes.append(note)
            # A note touches its issue, so a listing by `updated_after` finds a commented issue.
            issue.updated_at = stamp
            r = self.render
            attributes = {
                "id": note.id,
                "note": body,
                "noteable_type": "Issue",
                "noteable_id": issue.id,
                "author_id": actor,
                "project_id": project.id,
                "created_at": rest_time(stamp),
                "updated_at": rest_time(stamp),
                "system": False,
                "action": "create",
                "url": f"{r.issue_url(issue)}#note_{note.id}",
            }
            payload = {
                "object_attributes": attributes,
                "issue": r.hook_issue(issue),
                "project_id": project.id,
            }
            self._emit(project, "Note Hook", "note", payload, actor, "create")
            return note

    def delete_issue(self, issue: Issue) -> None:
        """GitLab sends no webhook when an issue is deleted: only a read finds out."""
        with self.lock:
            issue.deleted = True

    def move_issue(self, project: Project, issue: Issue, target: Project, actor: int) -> Issue:
        """A new issue in `target` with the title, description, assignees and notes; the old one is
        closed, pointing at it with `moved_to_id`."""
        with self.lock:
            if target.id == project.id:
                raise ApiError(
                    400,
                    "400 Bad request",
                    errors={"message": "Cannot move issue to project it originates from!"},
                )
            moved = self.create_issue(
                target, actor, issue.title, issue.description, list(issue.assignees), list(issue.labels)
            )
            moved.notes = [
                *issue.notes,
                Note(
                    self.ids.next("note", 5_000_001),
                    f"moved from {project.path}#{issue.iid}",
                    actor,
                    moved.created_at,
                    moved.created_at,
                    True,
                ),
            ]
            issue.moved_to_id = moved.id
            self.update_issue(project, issue, actor, {"state_event": "close"})
            return moved

    def add_hook(self, project: Project, data: dict[str, Any]) -> Hook:
        with self.lock:
            hook = Hook(
                id=self.ids.next("hook"),
                project_id=project.id,
                url=data["url"],
                token=data.get("token") or None,
                issues_events=bool(data.get("issues_events", False)),
                note_events=bool(data.get("note_events", False)),
                confidential_issues_events=bool(data.get("confidential_issues_events", False)),
                confidential_note_events=bool(data.get("confidential_note_events", False)),
                push_events=bool(data.get("push_events", True)),
                enable_ssl_verification=bool(data.get("enable_ssl_verification", True)),
                created_at=self.clock.now(),
            )
            self.hooks[hook.id] = hook
            return hook

    # -- webhooks ------------------------------------------------------------------------------------
    def emit_issue(
        self, project: Project, issue: Issue, action: str, changes: dict[str, Any], actor: int
    ) -> list[Delivery]:
        r = self.render
        payload: dict[str, Any] = {
            "object_attributes": r.hook_issue(issue) | {"action": action},
            "labels": [],
            "changes": changes,
        }
        # GitLab leaves `assignees` out altogether when there are none.
        if issue.assignees:
            payload["assignees"] = [r.hook_user(a) for a in issue.assignees]
        return self._emit(project, "Issue Hook", "issue", payload, actor, action)

    def _emit(
        self, project: Project, event: str, kind: str, payload: dict[str, Any], actor: int, action: str
    ) -> list[Delivery]:
        r = self.render
        document = {
            "object_kind": kind,
            "event_type": kind,
            "user": r.hook_user(actor),
            "project": r.hook_project(project),
            **payload,
            "repository": {"name": project.name, "url": f"{r.base}/{project.path}.git"},
        }
        body = json.dumps(document, separators=(",", ":")).encode()
        # One event, one UUID, whichever hooks it goes to.
        event_uuid = self.ids.guid("event")
        return [
            self._deliver(hook, event, action, body, event_uuid)
            for hook in list(self.hooks.values())
            if hook.project_id == project.id and hook.wants(event)
        ]

    def _deliver(self, hook: Hook, event: str, action: str, body: bytes, event_uuid: str) -> Delivery:
        instance = self.url

        def sign(delivery: Delivery, attempt: int, forge_with: str | None = None) -> dict[str, str]:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"GitLab/{VERSION}",
                "X-Gitlab-Event": event,
                "X-Gitlab-Instance": instance,
                # A fresh one per attempt; Idempotency-Key stays the same over retries.
                "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
                "X-Gitlab-Event-UUID": event_uuid,
                "Idempotency-Key": delivery.guid,
            }
            token = forge_with or hook.token
            if token:
                headers["X-Gitlab-Token"] = token
            return headers

        return self.outbox.enqueue(event, action, hook.url, body, sign)
