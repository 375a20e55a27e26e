"""The Jira sandbox: state, the operations on it (shared by the API and the person controls), webhooks."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from conduit.connectors.jira.sandbox import jql
from conduit.connectors.jira.sandbox.adf import from_text, to_text
from conduit.connectors.jira.sandbox.model import (
    Comment,
    Issue,
    JqlView,
    Project,
    Render,
    Status,
    Transition,
    User,
    Webhook,
    jira_time,
)
from conduit.connectors.sandbox.control import ControlError
from conduit.connectors.sandbox.core import ApiError, Sandbox
from conduit.connectors.sandbox.faults import Fault
from conduit.connectors.sandbox.oauth import TokenPolicy
from conduit.connectors.sandbox.signing import hs256_jwt, hub_signature_256
from conduit.connectors.sandbox.state import Stamp
from conduit.connectors.sandbox.webhooks import Delivery, Signer

DAY = 86400
WEBHOOK_LIFETIME = 30 * DAY
DEFAULT_CLIENT = ("sandbox-jira-client", "sandbox-jira-client-secret-0123456789abcdef")
DEFAULT_WORKFLOW = (("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done"))
DEFAULT_USERS = (
    ("Alice Admin", "alice@example.com"),
    ("Bob Builder", "bob@example.com"),
    ("Carol Support", "carol@example.com"),
)
WEBHOOK_EVENTS = {
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
}


def policies(reuse_window: float) -> dict[str, TokenPolicy]:
    return {
        # Access tokens live an hour; refresh tokens rotate on use and only exist with offline_access.
        # Reusing a rotated one is forgiven inside `reuse_window`; after it the whole grant is revoked.
        "jira": TokenPolicy(
            "",
            3600,
            "",
            90 * DAY,
            reuse_window=reuse_window,
            revoke_family_on_reuse=True,
            refresh_requires_scope="offline_access",
        )
    }


class JiraSandbox(Sandbox):
    name = "jira"
    client = DEFAULT_CLIENT
    signature_headers = ("Authorization", "X-Hub-Signature")

    def __init__(
        self,
        projects: tuple[str, ...] = ("OPS",),
        users: tuple[tuple[str, str], ...] = DEFAULT_USERS,
        seed: str = "jira",
        reuse_window: float = 10.0,
    ) -> None:
        self.users: dict[str, User] = {}
        self.seed = seed
        first = self._account_id(users[0][1])
        super().__init__(seed, policies(reuse_window), user=first)
        self.cloud_id = str(
            uuid.UUID(bytes=hashlib.sha256(f"{seed}:cloud".encode()).digest()[:16], version=4)
        )
        self.projects: dict[str, Project] = {}
        self.issues: dict[str, Issue] = {}  # by key
        # The keys issues had before they moved to another project: Jira still finds them by those.
        self.moved: dict[str, str] = {}
        self.webhooks: dict[int, Webhook] = {}
        self._filters: dict[int, jql.Query] = {}
        self._stamp = Stamp(self.clock, 0.001)
        self.outbox.retries = 2
        self.outbox.retry_delay = 0.5
        self.outbox.retry_header = "X-Atlassian-Webhook-Retry"
        for display_name, email in users:
            self.add_user(display_name, email)
        # A person acting "in Jira" through the control API, distinct from the OAuth user.
        self.human = self._account_id(users[-1][1])
        for key in projects:
            self.add_project(key)
        self.oauth.add_client(*DEFAULT_CLIENT, "jira")

    # -- tracker hooks -------------------------------------------------------------------------------
    def api_routes(self) -> list[BaseRoute]:
        from conduit.connectors.jira.sandbox.api import routes

        return routes()

    def control_routes(self) -> list[BaseRoute]:
        from conduit.connectors.jira.sandbox.control import routes

        return routes()

    def error_response(self, error: ApiError) -> Response:
        messages = [error.message] if error.message else []
        body = {"errorMessages": messages, "errors": error.errors or {}}
        return JSONResponse(body, error.status, headers=error.headers)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            reset = self.clock.time() + fault.retry_after
            headers = {
                "Retry-After": str(fault.retry_after),
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": self._from_ts(reset).strftime("%Y-%m-%dT%H:%MZ"),
                "RateLimit-Reason": "jira-quota-global-based",
            }
            return self.error_response(ApiError(429, "Rate limit exceeded.", headers=headers))
        if fault.kind == "timeout":
            return self.error_response(ApiError(504, "Gateway timeout"))
        return self.error_response(ApiError(fault.status, "Internal server error"))

    def knows_user(self, user: str) -> bool:
        return user in self.users

    @property
    def render(self) -> Render:
        return Render(self.url, self.users, self.projects)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            r = self.render
            return {
                "cloud_id": self.cloud_id,
                "users": [{**(r.user(a) or {}), "emailAddress": u.email} for a, u in self.users.items()],
                "projects": [
                    r.project(p) | {"statuses": [r.status(s) for s in p.statuses]}
                    for p in self.projects.values()
                ],
                "issues": [r.issue(i) | {"deleted": i.deleted} for i in self.issues.values()],
                "webhooks": [self.webhook_json(w) for w in self.webhooks.values()],
                "oauth": self.oauth.snapshot(),
            }

    @staticmethod
    def _from_ts(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    # -- directory -----------------------------------------------------------------------------------
    def _account_id(self, email: str) -> str:
        return "5f" + hashlib.sha256(f"{self.seed}:{email}".encode()).hexdigest()[:22]

    def scopes(self) -> list[str]:
        return list(self.projects)

    # -- a person at the tracker ---------------------------------------------------------------------
    def _ticket(self, key: str) -> Issue:
        try:
            return self.issue_for(key)
        except ApiError:
            raise ControlError(f"no issue {key} (or it was deleted)", 404) from None

    def _move(self, key: str, actor: str, category: str) -> None:
        """Through the first transition into a status of `category` (done, or new for to-do)."""
        issue = self._ticket(key)
        project = self.projects[issue.project]
        chosen = next((t for t in project.transitions if t.to.category == category), None)
        if chosen is None:
            raise ControlError(f"{project.key} has no status in the {category} category")
        if issue.status.category == category:
            raise ControlError(f"{issue.key} is already in {issue.status.name}")
        self.transition(issue, actor, chosen)

    def add_person(self, name: str, email: str, email_shown: bool) -> str:
        return self.add_user(name, email, hide_email=not email_shown).account_id

    def ticket_json(self, key: str) -> dict[str, Any]:
        issue = self.issues.get(key.upper())
        if issue is None:
            raise ControlError(f"no issue {key}", 404)
        return self.render.issue(issue)

    def close_ticket(self, key: str, actor: str) -> None:
        self._move(key, actor, "done")

    def reopen_ticket(self, key: str, actor: str) -> None:
        self._move(key, actor, "new")

    def comment_ticket(self, key: str, actor: str, text: str) -> None:
        self.add_comment(self._ticket(key), actor, from_text(text))

    def assign_ticket(self, key: str, actor: str, account: str | None) -> None:
        self.assign(self._ticket(key), actor, account)

    def delete_ticket(self, key: str, actor: str) -> None:
        self.delete_issue(self._ticket(key), actor)

    def move_ticket(self, key: str, actor: str, scope: str) -> str:
        issue = self._ticket(key)
        project = self.projects.get(scope)
        if project is None:
            raise ControlError(f"no project {scope}", 404)
        if project.key == issue.project:
            raise ControlError(f"{issue.key} is already in {scope}")
        self.move_issue(issue, actor, project)
        return issue.key

    def add_user(self, display_name: str, email: str, hide_email: bool = False) -> User:
        with self.lock:
            user = User(self._account_id(email), display_name, email, hide_email)
            self.users[user.account_id] = user
            return user

    def add_project(
        self, key: str, name: str | None = None, workflow: tuple[tuple[str, str], ...] = DEFAULT_WORKFLOW
    ) -> Project:
        if not key.isalnum() or not key[0].isalpha() or key.upper() != key:
            raise ValueError(f"a project key is upper-case letters and digits, got {key!r}")
        names = [n.lower() for n, _ in workflow]
        if not workflow or len(set(names)) != len(names):
            raise ValueError("a workflow needs at least one status and unique status names")
        with self.lock:
            statuses = []
            for status_name, category in workflow:
                if category not in ("new", "indeterminate", "done"):
                    raise ValueError(f"status category must be new, indeterminate or done; got {category!r}")
                statuses.append(Status(str(self.ids.next("status", 10000)), status_name, category))
            transitions = [Transition(str(10 * n + 1), s.name, s) for n, s in enumerate(statuses, 1)]
            project = Project(
                str(self.ids.next("project", 10000)), key, name or key.title(), statuses, transitions
            )
            self.projects[key] = project
            return project

    def issue_for(self, id_or_key: str) -> Issue:
        key = id_or_key.upper()
        while key in self.moved:
            key = self.moved[key]
        issue = self.issues.get(key) or next((i for i in self.issues.values() if i.id == id_or_key), None)
        if issue is None or issue.deleted:
            raise ApiError(404, "Issue does not exist or you do not have permission to see it.")
        return issue

    def view(self, issue: Issue) -> JqlView:
        return JqlView(issue, self.projects[issue.project], self.users)

    # -- operations ----------------------------------------------------------------------------------
    def create_issue(
        self,
        project: Project,
        actor: str,
        summary: str,
        description: dict[str, Any] | None,
        issuetype: str,
        assignee: str | None = None,
        labels: list[str] | None = None,
    ) -> Issue:
        with self.lock:
            stamp = self._stamp.next()
            issue = Issue(
                id=str(self.ids.next("issue", 10001)),
                key=f"{project.key}-{project.next_number}",
                project=project.key,
                issuetype=issuetype,
                summary=summary,
                description=description,
                status=project.statuses[0],
                reporter=actor,
                created=stamp,
                updated=stamp,
                assignee=assignee,
                labels=list(labels or []),
            )
            project.next_number += 1
            self.issues[issue.key] = issue
            self.emit("jira:issue_created", "issue_created", issue, actor)
            return issue

    def edit_issue(self, issue: Issue, actor: str, changes: dict[str, Any]) -> None:
        with self.lock:
            items = []
            for field in ("summary", "description", "labels"):
                if field in changes and changes[field] != getattr(issue, field):
                    old = getattr(issue, field)
                    setattr(issue, field, changes[field])
                    items.append(self._item(field, None, _plain(old), None, _plain(changes[field])))
            if "assignee" in changes and changes["assignee"] != issue.assignee:
                items.append(self._assignee_item(issue, changes["assignee"]))
                issue.assignee = changes["assignee"]
            if items:
                issue.updated = self._stamp.next()
                self.emit("jira:issue_updated", "issue_updated", issue, actor, changelog=items)

    def assign(self, issue: Issue, actor: str, account_id: str | None) -> None:
        with self.lock:
            if account_id == issue.assignee:
                return
            item = self._assignee_item(issue, account_id)
            issue.assignee = account_id
            issue.updated = self._stamp.next()
            self.emit("jira:issue_updated", "issue_assigned", issue, actor, changelog=[item])

    def transition(self, issue: Issue, actor: str, transition: Transition) -> None:
        with self.lock:
            old, new = issue.status, transition.to
            issue.status = new
            items = []
            if (old.category == "done") != (new.category == "done"):
                done = new.category == "done"
                issue.resolutiondate = self.clock.now() if done else None
                items.append(
                    self._item(
                        "resolution",
                        "10000" if not done else None,
                        "Done" if not done else None,
                        "10000" if done else None,
                        "Done" if done else None,
                    )
                )
            items.append(self._item("status", old.id, old.name, new.id, new.name))
            issue.updated = self._stamp.next()
            self.emit("jira:issue_updated", "issue_generic", issue, actor, changelog=items)

    def add_comment(self, issue: Issue, actor: str, body: dict[str, Any]) -> Comment:
        with self.lock:
            stamp = self._stamp.next()
            comment = Comment(str(self.ids.next("comment", 10100)), body, actor, stamp, stamp)
            issue.comments.append(comment)
            issue.updated = stamp
            rendered = self.render.comment(issue, comment)
            self.emit("comment_created", None, issue, actor, comment=rendered)
            self.emit("jira:issue_updated", "issue_commented", issue, actor, comment=rendered)
            return comment

    def move_issue(self, issue: Issue, actor: str, project: Project) -> None:
        """As Jira's move: a new key in the other project, the same id, a status of the same category
        in its workflow; the old key still finds the issue."""
        with self.lock:
            old_key, old_project = issue.key, self.projects[issue.project]
            issue.key, issue.project = f"{project.key}-{project.next_number}", project.key
            project.next_number += 1
            status = next((s for s in project.statuses if s.category == issue.status.category), None)
            issue.status = status or project.statuses[0]
            del self.issues[old_key]
            self.issues[issue.key] = issue
            self.moved[old_key] = issue.key
            issue.updated = self._stamp.next()
            items = [
                self._item("Key", None, old_key, None, issue.key),
                self._item("project", old_project.id, old_project.name, project.id, project.name),
            ]
            self.emit("jira:issue_updated", "issue_moved", issue, actor, changelog=items)

    def delete_issue(self, issue: Issue, actor: str) -> None:
        with self.lock:
            issue.deleted = True
            self.emit("jira:issue_deleted", "issue_deleted", issue, actor)

    def _item(
        self, field: str, frm: str | None, frm_s: str | None, to: str | None, to_s: str | None
    ) -> dict[str, Any]:
        return {
            "field": field,
            "fieldtype": "jira",
            "fieldId": field,
            "from": frm,
            "fromString": frm_s,
            "to": to,
            "toString": to_s,
        }

    def _assignee_item(self, issue: Issue, account_id: str | None) -> dict[str, Any]:
        def name(a: str | None) -> str | None:
            return self.users[a].display_name if a in self.users else a

        return self._item("assignee", issue.assignee, name(issue.assignee), account_id, name(account_id))

    # -- webhooks ------------------------------------------------------------------------------------
    def register_webhook(
        self,
        url: str,
        events: list[str],
        jql_filter: str,
        client_id: str | None,
        secret: str | None = None,
        name: str | None = None,
    ) -> Webhook:
        """Raise ValueError with the reason if the filter or the events are not acceptable."""
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if not events or unknown:
            raise ValueError(f"unsupported webhook events {unknown or events}; use {sorted(WEBHOOK_EVENTS)}")
        query = jql.parse(jql_filter, self.clock.now())
        with self.lock:
            expires = self.clock.time() + WEBHOOK_LIFETIME if client_id else None
            hook = Webhook(
                self.ids.next("webhook", 10000), url, events, jql_filter, client_id, expires, secret, name
            )
            self.webhooks[hook.id] = hook
            self._filters[hook.id] = query
            return hook

    def webhook_json(self, hook: Webhook) -> dict[str, Any]:
        data: dict[str, Any] = {"id": hook.id, "jqlFilter": hook.jql, "events": hook.events, "url": hook.url}
        if hook.expires_at is not None:
            data["expirationDate"] = jira_time(self._from_ts(hook.expires_at))
        if hook.name is not None:
            data["name"] = hook.name
        return data

    def webhook_json_date(self, ts: float) -> str | None:
        return jira_time(self._from_ts(ts))

    def emit(
        self,
        event: str,
        type_name: str | None,
        issue: Issue,
        actor: str,
        changelog: list[dict[str, Any]] | None = None,
        comment: dict[str, Any] | None = None,
    ) -> list[Delivery]:
        now = self.clock.time()
        r = self.render
        body: dict[str, Any] = {"timestamp": int(now * 1000), "webhookEvent": event}
        if type_name:
            body["issue_event_type_name"] = type_name
        body |= {"user": r.user(actor), "issue": r.issue(issue)}
        if changelog is not None:
            body["changelog"] = {"id": str(self.ids.next("changelog", 10000)), "items": changelog}
        if comment is not None:
            body["comment"] = comment
        deliveries = []
        for hook in list(self.webhooks.values()):
            if event not in hook.events or (hook.expires_at is not None and hook.expires_at < now):
                continue
            if not self._filters[hook.id].where(self.view(issue)):
                continue
            document = body | ({"matchedWebhookIds": [hook.id]} if hook.client_id else {})
            raw = json.dumps(document, separators=(",", ":")).encode()
            deliveries.append(self.outbox.enqueue(event, type_name, hook.url, raw, self._signer(hook, actor)))
        return deliveries

    def _signer(self, hook: Webhook, actor: str) -> Signer:
        def sign(delivery: Delivery, attempt: int, forge_with: str | None = None) -> dict[str, str]:
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Atlassian Webhook HTTP Client",
                "X-Atlassian-Webhook-Identifier": delivery.guid,
            }
            client = self.oauth.clients.get(hook.client_id or "")
            if client is not None:
                # A dynamic webhook's delivery carries `Authorization: Bearer <JWT>`, HS256 with the
                # registering app's client secret, signed afresh for each attempt. Atlassian defines no
                # hash of the request for these tokens, so the claims are what ties one to its place:
                # the site (`iss`, and `context.cloudId`), the app (`aud`), the webhook
                # (`context.webhookId`), and a window of a few minutes (`iat`, `exp`).
                iat = int(self.clock.time())
                claims = {
                    "iss": self.url,
                    "aud": client.client_id,
                    "sub": actor,
                    "iat": iat,
                    "exp": iat + 180,
                    "jti": f"{delivery.guid}:{attempt}",
                    "context": {"cloudId": self.cloud_id, "webhookId": hook.id},
                }
                key = forge_with or client.client_secret
                headers["Authorization"] = "Bearer " + hs256_jwt(key, claims)
            elif hook.secret:
                headers["X-Hub-Signature"] = hub_signature_256(forge_with or hook.secret, delivery.body)
            return headers

        return sign


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return to_text(value)
    return str(value)
