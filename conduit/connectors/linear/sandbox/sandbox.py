"""The Linear sandbox: state, the operations on it (shared by the API and the person controls), the
request budget, and webhooks signed as Linear signs them."""

from __future__ import annotations

import json
import math
import threading
from datetime import UTC, datetime
from typing import Any

from graphql import OperationDefinitionNode, parse
from graphql.error import GraphQLSyntaxError
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from conduit.connectors.linear.sandbox.model import (
    Attachment,
    Comment,
    Issue,
    Label,
    Organization,
    Render,
    State,
    Team,
    User,
    Webhook,
    connection,
)
from conduit.connectors.linear.sandbox.schema import invalid, not_found
from conduit.connectors.sandbox.control import ControlError
from conduit.connectors.sandbox.core import ApiError, Sandbox
from conduit.connectors.sandbox.faults import Fault
from conduit.connectors.sandbox.oauth import TokenPolicy
from conduit.connectors.sandbox.signing import hmac_sha256_hex
from conduit.connectors.sandbox.state import Stamp
from conduit.connectors.sandbox.webhooks import Delivery, Signer

DEFAULT_CLIENT = ("sandbox-linear-client", "sandbox-linear-client-secret-0123456789abcdef")
DEFAULT_USERS = (
    ("Alice Admin", "alice@example.com"),
    ("Bob Builder", "bob@example.com"),
    ("Carol Support", "carol@example.com"),
)
# A new team's workflow, as Linear creates it.
DEFAULT_WORKFLOW = (
    ("Backlog", "backlog"),
    ("Todo", "unstarted"),
    ("In Progress", "started"),
    ("In Review", "started"),
    ("Done", "completed"),
    ("Canceled", "canceled"),
    ("Duplicate", "canceled"),
)
STATE_TYPES = ("triage", "backlog", "unstarted", "started", "completed", "canceled")
RESOURCE_TYPES = {"Issue", "Comment", "IssueLabel", "Attachment", "Project", "Cycle", "Reaction", "User"}
# An OAuth app's budget: requests per hour (complexity is reported, not spent).
REQUESTS_PER_HOUR = 5000
COMPLEXITY_PER_HOUR = 2_000_000
HOUR = 3600.0


def policies() -> dict[str, TokenPolicy]:
    # Access tokens live a day; refresh tokens rotate and a used one is refused at once.
    return {"linear": TokenPolicy("lin_oauth_", 86399, "lin_refresh_", None, reuse_window=None)}


class Budget:
    """The request budget of the sandbox's users (Linear counts per user; the sandbox has one
    shared window): `X-RateLimit-Requests-*` on every answer, RATELIMITED when it is spent."""

    def __init__(self, now: float) -> None:
        self.limit = REQUESTS_PER_HOUR
        self.remaining = REQUESTS_PER_HOUR
        self.reset = now + HOUR
        # The HTTP status a RATELIMITED answer comes with: 400 as Linear documents, or 200.
        self.status = 400
        self._lock = threading.Lock()

    def take(self, now: float) -> bool:
        with self._lock:
            if now >= self.reset:
                self.remaining, self.reset = self.limit, now + HOUR
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            return True

    def headers(self, complexity: int | None = None) -> dict[str, str]:
        reset_ms = str(int(self.reset * 1000))
        headers = {
            "X-RateLimit-Requests-Limit": str(self.limit),
            "X-RateLimit-Requests-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Requests-Reset": reset_ms,
            "X-RateLimit-Complexity-Limit": str(COMPLEXITY_PER_HOUR),
            "X-RateLimit-Complexity-Remaining": str(COMPLEXITY_PER_HOUR - (complexity or 0)),
            "X-RateLimit-Complexity-Reset": reset_ms,
        }
        if complexity is not None:
            headers["X-Complexity"] = str(complexity)
        return headers


def graphql_error(message: str, kind: str, code: str, user_message: str | None = None) -> dict[str, Any]:
    extensions: dict[str, Any] = {"type": kind, "code": code}
    if user_message:
        extensions["userPresentableMessage"] = user_message
    return {"errors": [{"message": message, "extensions": extensions}]}


class LinearSandbox(Sandbox):
    name = "linear"
    client = DEFAULT_CLIENT
    signature_headers = ("Linear-Signature",)
    # Every API call is a POST to /graphql: its operation name is what faults match and calls count.
    names_from_body = True

    def __init__(
        self,
        teams: tuple[str, ...] = ("ENG",),
        users: tuple[tuple[str, str], ...] = DEFAULT_USERS,
        seed: str = "linear",
    ) -> None:
        self.seed = seed
        self.users: dict[str, User] = {}
        super().__init__(seed, policies(), user="")
        self.organization = Organization(self.ids.guid("organization"), "Sandbox", "sandbox")
        self.teams: dict[str, Team] = {}  # by key
        self.issues: dict[str, Issue] = {}  # by UUID
        self.labels: dict[str, Label] = {}  # by UUID
        self.webhooks: dict[str, Webhook] = {}
        self.budget = Budget(self.clock.time())
        self._stamp = Stamp(self.clock, 0.001)
        self._sync = 1000
        # Linear retries a failed delivery after a minute, an hour and six hours; scaled down here.
        self.outbox.retries = 3
        self.outbox.retry_delay = 1.0
        made = [self.add_user(name, email) for name, email in users]
        made[0].admin = True
        self.oauth.consent_user = made[0].id
        # A person acting "in Linear" through the control API, distinct from the OAuth user.
        self.human = made[-1].id
        for key in teams:
            self.add_team(key)
        self.oauth.add_client(*DEFAULT_CLIENT, "linear")

    # -- tracker hooks -------------------------------------------------------------------------------
    def api_routes(self) -> list[BaseRoute]:
        from conduit.connectors.linear.sandbox.api import routes

        return routes()

    def control_routes(self) -> list[BaseRoute]:
        from conduit.connectors.linear.sandbox.control import routes

        return routes()

    def error_response(self, error: ApiError) -> Response:
        extensions = (
            error.errors if isinstance(error.errors, dict) else {"type": "unknown", "code": "UNKNOWN"}
        )
        body = {"errors": [{"message": error.message, "extensions": extensions}]}
        return JSONResponse(body, error.status, headers=error.headers)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            reset = self.clock.time() + fault.retry_after
            headers = self.budget.headers() | {
                "Retry-After": str(fault.retry_after),
                "X-RateLimit-Requests-Remaining": "0",
                "X-RateLimit-Requests-Reset": str(int(reset * 1000)),
            }
            body = graphql_error(
                "Rate limit exceeded", "ratelimited", "RATELIMITED", "You have exceeded the API rate limit."
            )
            return JSONResponse(body, 429, headers=headers)
        if fault.kind == "timeout":
            return JSONResponse(
                graphql_error("Gateway timeout", "internal error", "INTERNAL_SERVER_ERROR"), 504
            )
        body = graphql_error("Internal server error", "internal error", "INTERNAL_SERVER_ERROR")
        return JSONResponse(body, fault.status)

    def operation_name(self, path: str, body: bytes) -> str | None:
        """The GraphQL operation a request runs: its `operationName`, else its only operation's name."""
        if not path.rstrip("/").endswith("/graphql"):
            return None
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(request, dict):
            return None
        if isinstance(request.get("operationName"), str):
            return str(request["operationName"])
        try:
            document = parse(str(request.get("query") or ""), max_tokens=20_000)
        except (GraphQLSyntaxError, RecursionError):
            return None
        names = [
            d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name
        ]
        return names[0] if len(names) == 1 else None

    def knows_user(self, user: str) -> bool:
        return user in self.users

    def scopes(self) -> list[str]:
        return list(self.teams)

    def sync_id(self) -> float:
        with self.lock:
            self._sync += 1
            return float(self._sync)

    @property
    def render(self) -> Render:
        return Render(self.url, self.organization, self.users, self.teams, self._team_issues, self.labels)

    def _team_issues(self, team: Team, args: dict[str, Any]) -> dict[str, Any]:
        items = [
            i
            for i in self.issues.values()
            if i.team == team.key and not i.purged and (args.get("includeArchived") or i.archived_at is None)
        ]
        items.sort(key=lambda i: i.created, reverse=True)
        return connection(items, self.render.issue, lambda i: i.id, args)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            r = self.render
            return {
                "organization": r.org(),
                "users": [
                    {"id": u.id, "name": u.name, "displayName": u.display_name, "email": u.email}
                    for u in self.users.values()
                ],
                "teams": [
                    {
                        "id": t.id,
                        "key": t.key,
                        "name": t.name,
                        "states": [{"id": s.id, "name": s.name, "type": s.type} for s in t.states],
                    }
                    for t in self.teams.values()
                ],
                "issues": [self.issue_json(i) for i in self.issues.values()],
                "webhooks": [
                    {
                        "id": w.id,
                        "url": w.url,
                        "teamId": w.team_id,
                        "allPublicTeams": w.all_public_teams,
                        "resourceTypes": w.resource_types,
                        "label": w.label,
                        "enabled": w.enabled,
                    }
                    for w in self.webhooks.values()
                ],
                "rate_limit": {"limit": self.budget.limit, "remaining": self.budget.remaining},
                "oauth": self.oauth.snapshot(),
            }

    def issue_json(self, issue: Issue) -> dict[str, Any]:
        r = self.render
        return r.issue_payload(issue) | {
            "purged": issue.purged,
            "comments": [r.comment_payload(issue, c) for c in issue.comments],
            "attachments": [{"id": a.id, "url": a.url, "title": a.title} for a in issue.attachments],
        }

    # -- directory -----------------------------------------------------------------------------------
    def add_user(self, name: str, email: str, admin: bool = False) -> User:
        with self.lock:
            display = email.split("@")[0]
            user = User(self.ids.guid(f"user:{email}"), name, display, email, admin)
            self.users[user.id] = user
            return user

    def add_team(
        self, key: str, name: str | None = None, workflow: tuple[tuple[str, str], ...] = DEFAULT_WORKFLOW
    ) -> Team:
        if not key.isalnum() or not key[0].isalpha() or key.upper() != key or len(key) > 7:
            raise ValueError(f"a team key is up to 7 upper-case letters and digits, got {key!r}")
        names = [n.lower() for n, _ in workflow]
        if not workflow or len(set(names)) != len(names):
            raise ValueError("a workflow needs at least one state and unique state names")
        for _, kind in workflow:
            if kind not in STATE_TYPES:
                raise ValueError(f"a state's type is one of {', '.join(STATE_TYPES)}; got {kind!r}")
        with self.lock:
            if key in self.teams:
                raise ValueError(f"team {key} exists")
            states = [
                State(self.ids.guid("state"), state_name, kind, float(n))
                for n, (state_name, kind) in enumerate(workflow)
            ]
            team = Team(self.ids.guid("team"), key, name or key.title(), states)
            self.teams[key] = team
            return team

    def team_for(self, id_or_key: str) -> Team:
        team = self.teams.get(id_or_key) or next((t for t in self.teams.values() if t.id == id_or_key), None)
        if team is None:
            raise not_found("Team")
        return team

    def issue_for(self, id_or_identifier: str) -> Issue:
        """By UUID, identifier, or an identifier the issue had before it moved team."""
        wanted = id_or_identifier.strip()
        upper = wanted.upper()
        issue = self.issues.get(wanted) or next(
            (i for i in self.issues.values() if i.identifier == upper or upper in i.previous_identifiers),
            None,
        )
        if issue is None or issue.purged:
            raise not_found("Issue")
        return issue

    # -- a person at the tracker ---------------------------------------------------------------------
    def _ticket(self, key: str) -> Issue:
        try:
            issue = self.issue_for(key)
        except Exception:
            raise ControlError(f"no issue {key} (or it was deleted)", 404) from None
        if issue.trashed:
            raise ControlError(f"{key} is in the trash", 404)
        return issue

    def _move(self, key: str, actor: str, kinds: tuple[str, ...]) -> None:
        issue = self._ticket(key)
        team = self.teams[issue.team]
        if issue.state.type in kinds:
            raise ControlError(f"{issue.identifier} is already in {issue.state.name}")
        for kind in kinds:
            state = next((s for s in team.states if s.type == kind), None)
            if state is not None:
                self.update_issue(issue, actor, {"stateId": state.id})
                return
        raise ControlError(f"{team.key} has no state of type {' or '.join(kinds)}")

    def add_person(self, name: str, email: str, email_shown: bool) -> str:
        # Linear shows every member's email to the workspace: there is no hidden email to honour.
        return self.add_user(name, email).id

    def ticket_json(self, key: str) -> dict[str, Any]:
        try:
            return self.issue_json(self.issue_for(key))
        except Exception:
            raise ControlError(f"no issue {key}", 404) from None

    def close_ticket(self, key: str, actor: str) -> None:
        self._move(key, actor, ("completed",))

    def reopen_ticket(self, key: str, actor: str) -> None:
        self._move(key, actor, ("unstarted", "backlog", "triage"))

    def comment_ticket(self, key: str, actor: str, text: str) -> None:
        self.add_comment(self._ticket(key), actor, text)

    def assign_ticket(self, key: str, actor: str, account: str | None) -> None:
        self.update_issue(self._ticket(key), actor, {"assigneeId": account})

    def delete_ticket(self, key: str, actor: str) -> None:
        self.delete_issue(self._ticket(key), actor)

    def move_ticket(self, key: str, actor: str, scope: str) -> str:
        """To another team: a new identifier, the old one still reads, the UUID stays."""
        issue = self._ticket(key)
        team = self.teams.get(scope)
        if team is None:
            raise ControlError(f"no team {scope!r}", 404)
        if team.key == issue.team:
            raise ControlError(f"{issue.identifier} is already in {team.key}")
        self.update_issue(issue, actor, {"teamId": team.id})
        return issue.identifier

    # -- operations ----------------------------------------------------------------------------------
    def _check_assignee(self, value: Any) -> str | None:
        if value is None:
            return None
        if value not in self.users:
            raise not_found("User")
        return str(value)

    def create_issue(
        self,
        team: Team,
        actor: str,
        title: str,
        description: str | None,
        assignee: str | None = None,
        state_id: str | None = None,
        label_ids: list[str] | None = None,
    ) -> Issue:
        if not title.strip():
            raise invalid("Title is required to create an issue.")
        with self.lock:
            state = team.state(state_id) if state_id else team.default_state()
            if state is None:
                raise not_found("WorkflowState")
            for label_id in label_ids or []:
                label = self.labels.get(label_id)
                if label is None:
                    raise not_found("IssueLabel")
                if label.team not in (None, team.key):
                    raise invalid("Label belongs to another team.")
            stamp = self._stamp.next()
            issue = Issue(
                id=self.ids.guid("issue"),
                team=team.key,
                number=team.next_number,
                title=title,
                description=description,
                state=state,
                creator=actor,
                created=stamp,
                updated=stamp,
                assignee=self._check_assignee(assignee),
                label_ids=list(dict.fromkeys(label_ids or [])),
            )
            self._enter(issue, state, stamp)
            team.next_number += 1
            self.issues[issue.id] = issue
            self.emit_issue(issue, "create", actor)
            return issue

    def create_label(self, name: str, team: Team | None) -> Label:
        """A new label; Linear refuses a second of the same name where both would apply."""
        if not name.strip():
            raise invalid("Name is required to create a label.")
        with self.lock:
            for label in self.labels.values():
                clash = label.team is None or team is None or label.team == team.key
                if clash and label.name.casefold() == name.casefold():
                    raise invalid("Label names must be unique within a team and the workspace.")
            label = Label(self.ids.guid("label"), name, team.key if team else None)
            self.labels[label.id] = label
            return label

    def _enter(self, issue: Issue, state: State, when: datetime) -> None:
        """Linear stamps `completedAt`/`canceledAt` when an issue enters such a state, and clears
        them when it leaves."""
        issue.completed_at = when if state.type == "completed" else None
        issue.canceled_at = when if state.type == "canceled" else None

    def update_issue(self, issue: Issue, actor: str, changes: dict[str, Any]) -> None:
        with self.lock:
            if issue.trashed and changes.get("trashed") is not False:
                raise invalid("The issue is in the trash; restore it first.")
            before: dict[str, Any] = {}
            stamp = self._stamp.next()
            r = self.render
            old = r.issue_payload(issue)
            if changes.get("title") is not None and changes["title"] != issue.title:
                if not str(changes["title"]).strip():
                    raise invalid("Title must not be empty.")
                before["title"], issue.title = issue.title, changes["title"]
            if "description" in changes and changes["description"] != issue.description:
                before["description"], issue.description = issue.description, changes["description"]
            if "assigneeId" in changes and changes["assigneeId"] != issue.assignee:
                before["assigneeId"], issue.assignee = (
                    issue.assignee,
                    self._check_assignee(changes["assigneeId"]),
                )
            if changes.get("teamId"):
                self._move_team(issue, self.team_for(changes["teamId"]), before)
            if changes.get("stateId") and changes["stateId"] != issue.state.id:
                state = self.teams[issue.team].state(changes["stateId"])
                if state is None:
                    raise invalid("The state does not belong to the issue's team.")
                was = {"completedAt": issue.completed_at, "canceledAt": issue.canceled_at}
                before["stateId"], issue.state = issue.state.id, state
                self._enter(issue, state, stamp)
                now = {"completedAt": issue.completed_at, "canceledAt": issue.canceled_at}
                before |= {field: old[field] for field in was if was[field] != now[field]}
            if changes.get("trashed") is False and issue.trashed:
                before["trashed"], issue.trashed, issue.archived_at = True, False, None
            if changes.get("trashed") is True:
                self.delete_issue(issue, actor)
                return
            if not before:
                return
            before["updatedAt"] = old["updatedAt"]
            issue.updated = stamp
            self.emit_issue(issue, "update", actor, before)

    def _move_team(self, issue: Issue, team: Team, before: dict[str, Any]) -> None:
        if team.key == issue.team:
            return
        before["teamId"] = self.teams[issue.team].id
        issue.previous_identifiers.append(issue.identifier)
        issue.team, issue.number = team.key, team.next_number
        team.next_number += 1
        # States belong to a team: the issue takes the new team's state of the same name.
        state = team.state(issue.state.name) or team.default_state()
        before["stateId"], issue.state = issue.state.id, state

    def add_comment(self, issue: Issue, actor: str, body: str) -> Comment:
        with self.lock:
            stamp = self._stamp.next()
            comment = Comment(self.ids.guid("comment"), body, actor, stamp, stamp)
            issue.comments.append(comment)
            self.emit("Comment", "create", issue, actor, self.render.comment_payload(issue, comment))
            return comment

    def attach(self, issue: Issue, actor: str, url: str, title: str, subtitle: str | None) -> Attachment:
        """One attachment per URL and issue: creating it again updates it."""
        with self.lock:
            stamp = self._stamp.next()
            found = next((a for a in issue.attachments if a.url == url), None)
            if found is not None:
                found.title, found.subtitle, found.updated = title, subtitle, stamp
                return found
            made = Attachment(self.ids.guid("attachment"), url, title, subtitle, actor, stamp, stamp)
            issue.attachments.append(made)
            return made

    def delete_issue(self, issue: Issue, actor: str, permanently: bool = False) -> None:
        """Deleting moves an issue to the trash (archived, still readable by id); `permanently`
        deletes it for good."""
        with self.lock:
            if not issue.trashed:
                issue.trashed, issue.archived_at = True, self._stamp.next()
                issue.updated = issue.archived_at
                self.emit_issue(issue, "remove", actor)
            if permanently:
                issue.purged = True

    # -- webhooks ------------------------------------------------------------------------------------
    def create_webhook(
        self,
        *,
        url: str,
        resource_types: list[str],
        team: Team | None,
        all_public_teams: bool,
        secret: str | None,
        label: str | None,
        enabled: bool,
        creator: str,
        client_id: str | None,
    ) -> Webhook:
        unknown = sorted(set(resource_types) - RESOURCE_TYPES)
        if not resource_types or unknown:
            raise invalid(
                f"Unknown resource types {unknown or resource_types}; use {sorted(RESOURCE_TYPES)}."
            )
        if team is None and not all_public_teams:
            raise invalid("A webhook needs a teamId or allPublicTeams.")
        if not url.startswith(("https://", "http://")):
            raise invalid("The webhook URL must be an http(s) URL.")
        with self.lock:
            hook = Webhook(
                id=self.ids.guid("webhook"),
                url=url,
                resource_types=list(resource_types),
                team_id=team.id if team else None,
                all_public_teams=all_public_teams,
                # Linear makes a signing secret when none is given; every delivery is signed.
                secret=secret or self.ids.token("lin_wh_", 40),
                label=label,
                enabled=enabled,
                creator=creator,
                client_id=client_id,
                created=self.clock.now(),
            )
            self.webhooks[hook.id] = hook
            return hook

    def emit_issue(self, issue: Issue, action: str, actor: str, before: dict[str, Any] | None = None) -> None:
        self.emit("Issue", action, issue, actor, self.render.issue_payload(issue), before)

    def emit(
        self,
        kind: str,
        action: str,
        issue: Issue,
        actor: str,
        data: dict[str, Any],
        before: dict[str, Any] | None = None,
    ) -> list[Delivery]:
        team = self.teams[issue.team]
        now = self.clock.time()
        user = self.users.get(actor)
        body: dict[str, Any] = {
            "action": action,
            "actor": {"id": actor, "name": user.name if user else actor, "type": "user"}
            | ({"email": user.email} if user else {}),
            "createdAt": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{int(now * 1000) % 1000:03d}Z",
            "data": data,
            "url": data.get("url") or self.render.issue_url(issue),
            "type": kind,
            "organizationId": self.organization.id,
            "webhookTimestamp": math.floor(now * 1000),
        }
        if before is not None:
            body["updatedFrom"] = before
        deliveries = []
        for hook in list(self.webhooks.values()):
            if not hook.enabled or kind not in hook.resource_types:
                continue
            if not hook.all_public_teams and hook.team_id != team.id:
                continue
            raw = json.dumps(body | {"webhookId": hook.id}, separators=(",", ":")).encode()
            deliveries.append(self.outbox.enqueue(kind, action, hook.url, raw, self._signer(hook)))
        return deliveries

    def _signer(self, hook: Webhook) -> Signer:
        def sign(delivery: Delivery, attempt: int, forge_with: str | None = None) -> dict[str, str]:
            secret = forge_with or hook.secret or ""
            return {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Linear-Webhook",
                "Linear-Delivery": delivery.guid,
                "Linear-Event": delivery.event,
                # Hex HMAC-SHA256 of the raw body, no prefix.
                "Linear-Signature": hmac_sha256_hex(secret, delivery.body),
            }

        return sign
