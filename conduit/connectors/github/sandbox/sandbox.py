"""The GitHub sandbox: state, the operations on it (shared by the API and the person controls), webhooks."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from conduit.connectors.github.sandbox.model import DOCS, Comment, Hook, Issue, Render, Repo, User
from conduit.connectors.sandbox.control import ControlError
from conduit.connectors.sandbox.core import ApiError, Sandbox
from conduit.connectors.sandbox.faults import Fault
from conduit.connectors.sandbox.oauth import TokenPolicy
from conduit.connectors.sandbox.signing import hub_signature_256, hub_signature_sha1
from conduit.connectors.sandbox.state import Stamp
from conduit.connectors.sandbox.webhooks import Delivery

POLICIES = {
    # OAuth App user tokens never expire and come without a refresh token.
    "oauth_app": TokenPolicy("gho_", None),
    # GitHub App user tokens: 8 h access, 6 month refresh; a refresh rotates both, the old one dies.
    "github_app": TokenPolicy("ghu_", 28800, "ghr_", 15811200),
}
DEFAULT_CLIENTS = {
    "sandbox-github-oauth-app": ("sandbox-github-oauth-app-secret", "oauth_app"),
    "sandbox-github-app": ("sandbox-github-app-secret", "github_app"),
}


class GitHubSandbox(Sandbox):
    name = "github"
    client = ("sandbox-github-app", "sandbox-github-app-secret")
    signature_headers = ("X-Hub-Signature", "X-Hub-Signature-256")

    def __init__(
        self,
        repos: tuple[str, ...] = ("acme/widgets",),
        users: tuple[str, ...] = ("octocat", "hubot", "monalisa"),
        seed: str = "github",
        rate_limit: int = 5000,
    ) -> None:
        super().__init__(seed, POLICIES, user=users[0])
        # Who acts "in GitHub" through the control API unless told otherwise; not the OAuth user, so a
        # person's change is never mistaken for one the integration made.
        self.human = users[-1]
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.issues: dict[tuple[str, int], Issue] = {}
        self.hooks: dict[int, Hook] = {}
        self.rate_limit = rate_limit
        self.rate_window = 3600.0
        self._budgets: dict[str, tuple[float, int]] = {}
        self.header_warnings: Counter[str] = Counter()
        self._stamp = Stamp(self.clock, 1.0)
        for login in users:
            self.add_user(login)
        for full_name in repos:
            self.add_repo(full_name)
        for client_id, (secret, mode) in DEFAULT_CLIENTS.items():
            self.oauth.add_client(client_id, secret, mode)

    # -- tracker hooks -------------------------------------------------------------------------------
    def api_routes(self) -> list[BaseRoute]:
        from conduit.connectors.github.sandbox.api import routes

        return routes()

    def control_routes(self) -> list[BaseRoute]:
        from conduit.connectors.github.sandbox.control import routes

        return routes()

    def error_response(self, error: ApiError) -> Response:
        body: dict[str, Any] = {"message": error.message, "documentation_url": DOCS}
        if "Location" in error.headers:
            body["url"] = error.headers["Location"]  # a moved resource, as GitHub says it
        if error.errors is not None:
            body["errors"] = error.errors
        return JSONResponse(body, error.status, headers=error.headers)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            reset = int(self.clock.time()) + fault.retry_after
            headers = {
                "retry-after": str(fault.retry_after),
                "x-ratelimit-limit": str(self.rate_limit),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": str(self.rate_limit),
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
            }
            return self.error_response(
                ApiError(429, "You have exceeded a secondary rate limit.", headers=headers)
            )
        if fault.kind == "timeout":
            return self.error_response(ApiError(504, "We couldn't respond to your request in time."))
        return self.error_response(ApiError(fault.status, "Server Error"))

    def knows_user(self, user: str) -> bool:
        return user in self.users

    @property
    def render(self) -> Render:
        return Render(self.url, self.users, self.repos)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            r = self.render
            return {
                "users": [r.user(u, full=True) for u in self.users],
                "repos": [r.repo(repo) for repo in self.repos.values()],
                "issues": [r.issue(i) | {"deleted": i.deleted} for i in self.issues.values()],
                "hooks": [r.hook(h) for h in self.hooks.values()],
                "header_warnings": dict(self.header_warnings),
                "oauth": self.oauth.snapshot(),
            }

    def scopes(self) -> list[str]:
        return list(self.repos)

    # -- a person at the tracker ---------------------------------------------------------------------
    def _ticket(self, key: str) -> tuple[Repo, Issue]:
        """`owner/repo#number` → its repository and issue (404 when gone)."""
        name, _, number = key.rpartition("#")
        repo = self.repos.get(name)
        issue = self.issues.get((name, int(number))) if repo is not None and number.isdigit() else None
        if repo is None or issue is None or issue.deleted:
            raise ControlError(f"no issue {key} (or it was deleted)", 404)
        return repo, issue

    def add_person(self, name: str, email: str, email_shown: bool) -> str:
        login = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-") or "someone"
        return self.add_user(login, name, email, email_shown).login

    def ticket_json(self, key: str) -> dict[str, Any]:
        name, _, number = key.rpartition("#")
        issue = self.issues.get((name, int(number))) if number.isdigit() else None
        if issue is None:
            raise ControlError(f"no issue {key}", 404)
        return self.render.issue(issue)

    def close_ticket(self, key: str, actor: str) -> None:
        repo, issue = self._ticket(key)
        self.update_issue(repo, issue, actor, {"state": "closed", "state_reason": "completed"})

    def reopen_ticket(self, key: str, actor: str) -> None:
        repo, issue = self._ticket(key)
        self.update_issue(repo, issue, actor, {"state": "open"})

    def comment_ticket(self, key: str, actor: str, text: str) -> None:
        repo, issue = self._ticket(key)
        self.add_comment(repo, issue, actor, text)

    def assign_ticket(self, key: str, actor: str, account: str | None) -> None:
        repo, issue = self._ticket(key)
        self.update_issue(repo, issue, actor, {"assignees": [account] if account else []})

    def delete_ticket(self, key: str, actor: str) -> None:
        repo, issue = self._ticket(key)
        self.delete_issue(repo, issue, actor)

    def move_ticket(self, key: str, actor: str, scope: str) -> str:
        repo, issue = self._ticket(key)
        target = self.repos.get(scope)
        if target is None:
            raise ControlError(f"no repository {scope}", 404)
        if target.full_name == repo.full_name:
            raise ControlError(f"{key} is already in {scope}")
        moved = self.transfer_issue(repo, issue, actor, target)
        return f"{target.full_name}#{moved.number}"

    # -- directory -----------------------------------------------------------------------------------
    def add_user(
        self, login: str, name: str | None = None, email: str | None = None, public_email: bool = True
    ) -> User:
        """Create a user, or update the name and email of an existing one (its id stays)."""
        with self.lock:
            user = self.users.get(login)
            if user is None:
                user = User(self.ids.next("user"), login, login.title(), f"{login}@example.com")
                self.users[login] = user
            user.name = name or user.name
            user.email = email or user.email
            user.public_email = public_email
            return user

    def add_repo(self, full_name: str, private: bool = False, collaborators: list[str] | None = None) -> Repo:
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"a repository is named owner/name, got {full_name!r}")
        with self.lock:
            self.add_user(owner)
            repo = Repo(self.ids.next("repo", 100), owner, name, private, list(collaborators or []))
            self.repos[full_name] = repo
            return repo

    def repo_for(self, full_name: str, login: str) -> Repo:
        repo = self.repos.get(full_name)
        if repo is None or not repo.visible_to(login):
            raise ApiError(404, "Not Found")
        return repo

    def issue_for(self, repo: Repo, number: int) -> Issue:
        issue = self.issues.get((repo.full_name, number))
        if issue is None:
            raise ApiError(404, "Not Found")
        if issue.transferred_to is not None:
            # As GitHub answers for a transferred issue: where it lives now, by repository id.
            target = self.issues[issue.transferred_to]
            url = f"{self.render.api}/repositories/{self.repos[target.repo].id}/issues/{target.number}"
            raise ApiError(301, "Moved Permanently", headers={"Location": url})
        if issue.deleted:
            raise ApiError(410, "This issue was deleted")
        return issue

    # -- rate limit ----------------------------------------------------------------------------------
    def budget(self, login: str, consume: bool) -> dict[str, str]:
        now = self.clock.time()
        with self.lock:
            start, used = self._budgets.get(login, (now, 0))
            if now >= start + self.rate_window:
                start, used = now, 0
            if consume:
                used += 1
            self._budgets[login] = (start, used)
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(self.rate_limit - used, 0)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(start + self.rate_window)),
            "x-ratelimit-resource": "core",
        }

    def reset_budgets(self) -> None:
        with self.lock:
            self._budgets.clear()

    # -- operations ----------------------------------------------------------------------------------
    def _check_users(self, logins: list[str], field: str) -> None:
        unknown = [login for login in logins if login not in self.users]
        if unknown:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "field": field, "code": "invalid", "value": unknown}],
            )

    def create_issue(
        self,
        repo: Repo,
        actor: str,
        title: str,
        body: str | None = None,
        assignees: list[str] | None = None,
        labels: list[str] | None = None,
        pull_request: bool = False,
    ) -> Issue:
        with self.lock:
            self._check_users(assignees or [], "assignees")
            stamp = self._stamp.next()
            issue = Issue(
                id=self.ids.next("issue", 1_000_001),
                number=repo.next_number,
                repo=repo.full_name,
                title=title,
                body=body,
                user=actor,
                created_at=stamp,
                updated_at=stamp,
                assignees=list(dict.fromkeys(assignees or [])),
                labels=list(dict.fromkeys(labels or [])),
                pull_request=pull_request,
            )
            repo.next_number += 1
            self.issues[(repo.full_name, issue.number)] = issue
            if not pull_request:
                self.emit(repo, "issues", "opened", {"issue": self.render.issue(issue)}, actor)
            return issue

    def update_issue(self, repo: Repo, issue: Issue, actor: str, changes: dict[str, Any]) -> Issue:
        """Apply a PATCH body (already validated) and send one webhook per kind of change."""
        with self.lock:
            events: list[tuple[str, dict[str, Any]]] = []
            edited: dict[str, Any] = {}
            for key in ("title", "body"):
                if key in changes and changes[key] != getattr(issue, key):
                    edited[key] = {"from": getattr(issue, key)}
                    setattr(issue, key, changes[key])
            if edited:
                events.append(("edited", {"changes": edited}))
            state = changes.get("state")
            if state is not None and state != issue.state:
                issue.state = state
                if state == "closed":
                    issue.state_reason = changes.get("state_reason") or "completed"
                    issue.closed_by = actor
                    issue.closed_at = self.clock.now()
                    events.append(("closed", {}))
                else:
                    issue.state_reason = "reopened"
                    issue.closed_at = None
                    issue.closed_by = None
                    events.append(("reopened", {}))
            if "assignees" in changes:
                new = list(dict.fromkeys(changes["assignees"]))
                self._check_users(new, "assignees")
                added = [a for a in new if a not in issue.assignees]
                removed = [a for a in issue.assignees if a not in new]
                issue.assignees = new
                events += [("unassigned", {"assignee": self.render.user(a)}) for a in removed]
                events += [("assigned", {"assignee": self.render.user(a)}) for a in added]
            if "labels" in changes:
                new = list(dict.fromkeys(changes["labels"]))
                added = [n for n in new if n not in issue.labels]
                removed = [n for n in issue.labels if n not in new]
                issue.labels = new
                events += [("unlabeled", {"label": self.render.label(n)}) for n in removed]
                events += [("labeled", {"label": self.render.label(n)}) for n in added]
            if events:
                issue.updated_at = self._stamp.next()
            for action, extra in events:
                if not issue.pull_request:
                    self.emit(repo, "issues", action, {"issue": self.render.issue(issue), **extra}, actor)
            return issue

    def add_comment(self, repo: Repo, issue: Issue, actor: str, body: str) -> Comment:
        with self.lock:
            stamp = self._stamp.next()
            comment = Comment(self.ids.next("comment", 5_000_001), body, actor, stamp, stamp)
            issue.comments.append(comment)
            issue.updated_at = stamp
            r = self.render
            payload = {"issue": r.issue(issue), "comment": r.comment(issue, comment)}
            self.emit(repo, "issue_comment", "created", payload, actor)
            return comment

    def transfer_issue(self, repo: Repo, issue: Issue, actor: str, target: Repo) -> Issue:
        """As GitHub's transfer: the issue, with its comments, under a new id and number in `target`;
        the old one answers 301 from then on, and its repository hears `issues.transferred`."""
        with self.lock:
            stamp = self._stamp.next()
            moved = dataclasses.replace(
                issue,
                id=self.ids.next("issue", 1_000_001),
                number=target.next_number,
                repo=target.full_name,
                updated_at=stamp,
                comments=list(issue.comments),
            )
            target.next_number += 1
            self.issues[(target.full_name, moved.number)] = moved
            issue.transferred_to = (target.full_name, moved.number)
            r = self.render
            changes = {"new_issue": r.issue(moved), "new_repository": r.repo(target)}
            self.emit(repo, "issues", "transferred", {"issue": r.issue(issue), "changes": changes}, actor)
            return moved

    def delete_issue(self, repo: Repo, issue: Issue, actor: str) -> None:
        with self.lock:
            issue.deleted = True
            self.emit(repo, "issues", "deleted", {"issue": self.render.issue(issue)}, actor)

    def add_hook(
        self, repo: Repo, url: str, content_type: str, secret: str | None, events: list[str], active: bool
    ) -> Hook:
        with self.lock:
            stamp = self.clock.now()
            hook = Hook(
                self.ids.next("hook", 400_001),
                repo.full_name,
                url,
                content_type,
                secret,
                events,
                active,
                stamp,
                stamp,
            )
            self.hooks[hook.id] = hook
            # Like GitHub, a new hook gets a `ping` right away.
            ping = {"zen": "Keep it logically awesome.", "hook_id": hook.id, "hook": self.render.hook(hook)}
            self._deliver(hook, repo, "ping", None, ping, repo.owner)
            return hook

    # -- webhooks ------------------------------------------------------------------------------------
    def emit(
        self, repo: Repo, event: str, action: str, payload: dict[str, Any], actor: str
    ) -> list[Delivery]:
        return [
            self._deliver(hook, repo, event, action, payload, actor)
            for hook in list(self.hooks.values())
            if hook.repo == repo.full_name and hook.wants(event)
        ]

    def _deliver(
        self, hook: Hook, repo: Repo, event: str, action: str | None, payload: dict[str, Any], actor: str
    ) -> Delivery:
        r = self.render
        document = ({"action": action} if action else {}) | payload
        document |= {"repository": r.repo(repo), "sender": r.user(actor)}
        raw = json.dumps(document, separators=(",", ":")).encode()
        if hook.content_type == "form":
            body, content_type = (
                urlencode({"payload": raw.decode()}).encode(),
                "application/x-www-form-urlencoded",
            )
        else:
            body, content_type = raw, "application/json"

        def sign(delivery: Delivery, attempt: int, forge_with: str | None = None) -> dict[str, str]:
            headers = {
                "Content-Type": content_type,
                "User-Agent": "GitHub-Hookshot/sandbox",
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery.guid,
                "X-GitHub-Hook-ID": str(hook.id),
                "X-GitHub-Hook-Installation-Target-Type": "repository",
                "X-GitHub-Hook-Installation-Target-ID": str(repo.id),
            }
            secret = forge_with or hook.secret
            if secret:
                headers["X-Hub-Signature"] = hub_signature_sha1(secret, delivery.body)
                headers["X-Hub-Signature-256"] = hub_signature_256(secret, delivery.body)
            return headers

        return self.outbox.enqueue(event, action, hook.url, body, sign)
