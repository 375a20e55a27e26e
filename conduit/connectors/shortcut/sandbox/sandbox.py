"""The Shortcut sandbox: one workspace, its API tokens, the operations on it, and its webhooks.

API tokens are what people paste into integrations: minted here by a control route for a member, valid
until revoked. They are kept as grants of the shared OAuth server (never expiring, never refreshed),
so revoking one through `/_sandbox/api-tokens/{token}` or the shared `/oauth/revoke` is the same state
change, and a revoked token gets Shortcut's 401 from then on.

Every change to a story sends one delivery to each webhook of the workspace (Shortcut's outgoing
webhooks are workspace-wide), with the event's id in the body and no delivery header.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from conduit.connectors.sandbox.control import ControlError
from conduit.connectors.sandbox.core import ApiError, Sandbox
from conduit.connectors.sandbox.faults import Fault
from conduit.connectors.sandbox.oauth import AccessToken, Grant, TokenPolicy
from conduit.connectors.sandbox.signing import hmac_sha256_hex
from conduit.connectors.sandbox.state import Stamp
from conduit.connectors.sandbox.webhooks import Delivery, Signer
from conduit.connectors.shortcut.sandbox.model import (
    STATE_TYPES,
    Comment,
    Group,
    Member,
    Render,
    State,
    Story,
    Webhook,
    Workflow,
    Workspace,
)

DEFAULT_CLIENT = ("sandbox-shortcut-client", "sandbox-shortcut-client-secret-0123456789abcdef")
# The grants behind API tokens belong to no OAuth client.
API_TOKEN_CLIENT = "api-token"
SCOPE = "workspace"
DEFAULT_WORKFLOW = (
    ("Backlog", "backlog"),
    ("Ready for Development", "unstarted"),
    ("In Development", "started"),
    ("Ready for Review", "started"),
    ("Completed", "done"),
    ("Won't Do", "done"),
)
DEFAULT_MEMBERS = (
    ("Olivia Owner", "olivia@example.com", "owner"),
    ("Sam Shipper", "sam@example.com", "member"),
    ("Pat Person", "pat@example.com", "member"),
)
RATE_LIMIT = 200
RATE_WINDOW = 60.0


def policies() -> dict[str, TokenPolicy]:
    # Shortcut's OAuth flow for newer apps: short-lived access tokens, rotating refresh tokens.
    return {"shortcut": TokenPolicy("", 3600, "", None)}


class ShortcutSandbox(Sandbox):
    name = "shortcut"
    client = DEFAULT_CLIENT
    signature_headers = ("Payload-Signature",)

    def __init__(
        self, seed: str = "shortcut", members: tuple[tuple[str, str, str], ...] = DEFAULT_MEMBERS
    ) -> None:
        self.seed = seed
        self.members: dict[str, Member] = {}
        first = self._member_id(members[0][1])
        super().__init__(seed, policies(), user=first)
        self._stamp = Stamp(self.clock, 0.001)
        self.workflows: dict[int, Workflow] = {}
        self.groups: dict[str, Group] = {}
        self.stories: dict[int, Story] = {}
        # The workspace's labels by folded name: (id, name as first given).
        self.labels: dict[str, tuple[int, str]] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.rate_limit = RATE_LIMIT
        self._budgets: dict[str, tuple[float, int]] = {}
        for name, email, role in members:
            self.add_member(name, email, role=role)
        # A person acting "in Shortcut" through the control API, distinct from the token's owner.
        self.human = self._member_id(members[-1][1])
        workflow = self.add_workflow("Engineering", DEFAULT_WORKFLOW)
        self.workspace = Workspace(
            self._guid("workspace"), "Sandbox", "sandbox", workflow.id, self.clock.now()
        )
        self.add_group("Engineering", "engineering", [workflow.id])
        self.oauth.add_client(*DEFAULT_CLIENT, "shortcut")

    # -- tracker hooks -------------------------------------------------------------------------------
    def api_routes(self) -> list[BaseRoute]:
        from conduit.connectors.shortcut.sandbox.api import routes

        return routes()

    def control_routes(self) -> list[BaseRoute]:
        from conduit.connectors.shortcut.sandbox.control import routes

        return routes()

    def error_response(self, error: ApiError) -> Response:
        body: dict[str, Any] = {"message": error.message}
        if error.errors is not None:
            body["errors"] = error.errors
        return JSONResponse(body, error.status, headers=error.headers)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            headers = {"Retry-After": str(fault.retry_after)}
            return self.error_response(ApiError(429, "Too Many Requests", headers=headers))
        if fault.kind == "timeout":
            return self.error_response(ApiError(504, "Gateway Timeout"))
        return self.error_response(ApiError(fault.status, "Server Error"))

    def knows_user(self, user: str) -> bool:
        return user in self.members

    def scopes(self) -> list[str]:
        return [SCOPE]

    @property
    def render(self) -> Render:
        states = {s.id: s for w in self.workflows.values() for s in w.states}
        return Render(self.url, self.workspace, states)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            r = self.render
            return {
                "workspace": r.member_info(next(iter(self.members.values())))["workspace2"],
                "members": [{**r.member(m), "email": m.email} for m in self.members.values()],
                "groups": [r.group(g) for g in self.groups.values()],
                "workflows": [r.workflow(w) for w in self.workflows.values()],
                "stories": [r.story(s) | {"deleted": s.deleted} for s in self.stories.values()],
                "webhooks": [r.webhook(h) for h in self.webhooks.values()],
                "oauth": self.oauth.snapshot(),
            }

    # -- ids -----------------------------------------------------------------------------------------
    def _guid(self, name: str) -> str:
        return self.ids.guid(f"{self.seed}:{name}")

    def _member_id(self, email: str) -> str:
        digest = hashlib.sha256(f"{self.seed}:member:{email}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    # -- API tokens ----------------------------------------------------------------------------------
    def mint_token(self, member_id: str) -> str:
        """An API token of `member_id`, as Settings → API Tokens makes one: it never expires."""
        with self.lock:
            if member_id not in self.members:
                raise ControlError(f"unknown member {member_id!r}", 404)
            grant = Grant(self.ids.next("grant"), API_TOKEN_CLIENT, member_id, "")
            value = self.ids.guid(f"{self.seed}:api-token")
            self.oauth.access[value] = AccessToken(value, grant, None)
            return value

    def revoke_token(self, value: str) -> bool:
        """Delete a live token; False when there is none by that value (or it is already revoked)."""
        if self.oauth.authenticate(value) is None:
            return False
        return self.oauth.revoke(value) > 0

    def authenticate(self, token: str | None) -> str | None:
        """The member a token acts for, or None (unknown, revoked, or a disabled member's)."""
        grant = self.oauth.authenticate(token) if token else None
        if grant is None:
            return None
        member = self.members.get(grant.user)
        return member.id if member is not None and not member.disabled else None

    # -- rate limit ----------------------------------------------------------------------------------
    def spend(self, token: str) -> float | None:
        """Count one request of `token`; past the limit, the seconds until its window ends."""
        now = self.clock.time()
        with self.lock:
            start, used = self._budgets.get(token, (now, 0))
            if now >= start + RATE_WINDOW:
                start, used = now, 0
            if used >= self.rate_limit:
                return max(start + RATE_WINDOW - now, 1.0)
            self._budgets[token] = (start, used + 1)
            return None

    def reset_budgets(self) -> None:
        with self.lock:
            self._budgets.clear()

    # -- directory -----------------------------------------------------------------------------------
    def add_member(self, name: str, email: str, *, role: str = "member", email_shown: bool = True) -> Member:
        with self.lock:
            member_id = self._member_id(email)
            mention = "".join(c for c in email.split("@")[0].lower() if c.isalnum() or c in "._-") or "member"
            member = Member(member_id, name, mention, email, email_shown, role, created_at=self.clock.now())
            self.members[member_id] = member
            return member

    def add_workflow(self, name: str, states: tuple[tuple[str, str], ...]) -> Workflow:
        names = [n.casefold() for n, _ in states]
        if not states or len(set(names)) != len(names):
            raise ValueError("a workflow needs at least one state and unique state names")
        if any(t not in STATE_TYPES for _, t in states):
            raise ValueError(f"a state's type is one of {', '.join(STATE_TYPES)}")
        with self.lock:
            workflow_id = self.ids.next("workflow", 500_000_001)
            made = [
                State(self.ids.next("state", 500_000_100), n, t, position)
                for position, (n, t) in enumerate(states, 1)
            ]
            workflow = Workflow(workflow_id, name, made)
            self.workflows[workflow_id] = workflow
            return workflow

    def add_group(self, name: str, mention_name: str, workflow_ids: list[int]) -> Group:
        with self.lock:
            if any(g.mention_name == mention_name for g in self.groups.values()):
                raise ValueError(f"a team is already mentioned as @{mention_name}")
            group = Group(self._guid("group"), name, mention_name, list(workflow_ids))
            self.groups[group.id] = group
            return group

    def state(self, state_id: int) -> tuple[Workflow, State] | None:
        for workflow in self.workflows.values():
            for state in workflow.states:
                if state.id == state_id:
                    return workflow, state
        return None

    def story_for(self, story_id: Any) -> Story:
        try:
            number = int(story_id)
        except (TypeError, ValueError):
            number = -1
        story = self.stories.get(number)
        if story is None or story.deleted:
            raise ApiError(404, "Resource not found.")
        return story

    # -- operations ----------------------------------------------------------------------------------
    def label(self, name: str) -> tuple[int, str]:
        """The workspace's label of this name (case-insensitive), made if it has none."""
        with self.lock:
            known = self.labels.get(name.casefold())
            if known is None:
                known = self.labels[name.casefold()] = (self.ids.next("label", 1), name)
            return known

    def create_story(
        self,
        actor: str,
        name: str,
        description: str = "",
        story_type: str = "feature",
        workflow_state_id: int | None = None,
        group_id: str | None = None,
        owner_ids: list[str] | None = None,
        external_links: list[str] | None = None,
        labels: list[str] | None = None,
    ) -> Story:
        with self.lock:
            if workflow_state_id is None:
                workflow = self.workflows[self.workspace.default_workflow_id]
                state = workflow.default_state
            else:
                found = self.state(workflow_state_id)
                assert found is not None
                workflow, state = found
            stamp = self._stamp.next()
            story = Story(
                id=self.ids.next("story", 1),
                name=name,
                description=description,
                story_type=story_type,
                workflow_id=workflow.id,
                workflow_state_id=state.id,
                requested_by_id=actor,
                created_at=stamp,
                updated_at=stamp,
                group_id=group_id,
                owner_ids=list(dict.fromkeys(owner_ids or [])),
                external_links=list(external_links or []),
                labels=[self.label(n) for n in dict.fromkeys(labels or [])],
                started_at=stamp if state.type in ("started", "done") else None,
                completed_at=stamp if state.type == "done" else None,
            )
            self.stories[story.id] = story
            r = self.render
            action = {
                "id": story.id,
                "entity_type": "story",
                "action": "create",
                "name": story.name,
                "story_type": story.story_type,
                "app_url": r.story_url(story.id),
                "description": story.description,
                "workflow_state_id": story.workflow_state_id,
                "owner_ids": list(story.owner_ids),
                "requested_by_id": actor,
                "follower_ids": [actor],
                "group_id": story.group_id,
                "position": story.id,
            }
            self.emit(story, actor, [action], [self._state_ref(state)])
            return story

    def update_story(self, story: Story, actor: str, changes: dict[str, Any]) -> Story:
        """Apply a PUT body (already checked) and send one delivery naming what changed."""
        with self.lock:
            diff: dict[str, Any] = {}
            refs: list[dict[str, Any]] = []
            for field in ("name", "description"):
                if field in changes and changes[field] != getattr(story, field):
                    diff[field] = {"old": getattr(story, field), "new": changes[field]}
                    setattr(story, field, changes[field])
            new_state = changes.get("workflow_state_id")
            if new_state is not None and new_state != story.workflow_state_id:
                found_old, found_new = self.state(story.workflow_state_id), self.state(new_state)
                assert found_old is not None and found_new is not None
                old, new = found_old[1], found_new[1]
                diff["workflow_state_id"] = {"old": old.id, "new": new.id}
                was_started, started = old.type in ("started", "done"), new.type in ("started", "done")
                if was_started != started:
                    diff["started"] = {"old": was_started, "new": started}
                if (old.type == "done") != (new.type == "done"):
                    diff["completed"] = {"old": old.type == "done", "new": new.type == "done"}
                now = self.clock.now()
                story.started_at = story.started_at or (now if started else None)
                story.completed_at = now if new.type == "done" else None
                story.workflow_state_id, story.workflow_id = new.id, found_new[0].id
                refs += [self._state_ref(new), self._state_ref(old)]
            if "owner_ids" in changes:
                owners = list(dict.fromkeys(changes["owner_ids"]))
                adds = [o for o in owners if o not in story.owner_ids]
                removes = [o for o in story.owner_ids if o not in owners]
                if adds or removes:
                    diff["owner_ids"] = {k: v for k, v in (("adds", adds), ("removes", removes)) if v}
                    story.owner_ids = owners
            if diff:
                story.updated_at = self._stamp.next()
                self.emit(story, actor, [self._story_action(story, "update", diff)], refs)
            return story

    def add_comment(self, story: Story, actor: str, text: str) -> Comment:
        with self.lock:
            stamp = self._stamp.next()
            comment = Comment(self.ids.next("comment", 1000), text, actor, stamp, stamp)
            story.comments.append(comment)
            story.updated_at = stamp
            r = self.render
            actions = [
                {
                    "id": comment.id,
                    "entity_type": "story-comment",
                    "action": "create",
                    "app_url": r.comment(story, comment)["app_url"],
                    "text": text,
                    "author_id": actor,
                },
                self._story_action(story, "update", {"comment_ids": {"adds": [comment.id]}}),
            ]
            self.emit(story, actor, actions, [])
            return comment

    def delete_story(self, story: Story, actor: str) -> None:
        with self.lock:
            story.deleted = True
            action = {"id": story.id, "entity_type": "story", "action": "delete", "name": story.name}
            self.emit(story, actor, [action], [])

    def _story_action(self, story: Story, action: str, changes: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": story.id,
            "entity_type": "story",
            "action": action,
            "name": story.name,
            "story_type": story.story_type,
            "app_url": self.render.story_url(story.id),
            "changes": changes,
        }

    @staticmethod
    def _state_ref(state: State) -> dict[str, Any]:
        return {"id": state.id, "entity_type": "workflow-state", "name": state.name, "type": state.type}

    # -- webhooks ------------------------------------------------------------------------------------
    def add_webhook(self, url: str, secret: str | None, creator: str) -> Webhook:
        with self.lock:
            hook = Webhook(self.ids.next("webhook", 500_107_001), url, secret, creator, self.clock.now())
            self.webhooks[hook.id] = hook
            return hook

    def emit(
        self, story: Story, actor: str, actions: list[dict[str, Any]], references: list[dict[str, Any]]
    ) -> list[Delivery]:
        """One event, sent to every enabled webhook of the workspace."""
        event_id = self._guid("event")
        changed_at = self.render.story(story)["updated_at"]
        document: dict[str, Any] = {
            "id": event_id,
            "changed_at": changed_at,
            "version": "v1",
            "primary_id": story.id,
            "member_id": actor,
            "actions": actions,
        }
        if references:
            document["references"] = references
        raw = json.dumps(document, separators=(",", ":")).encode()
        kind = next((str(a.get("action")) for a in actions if a.get("entity_type") == "story"), None)
        return [
            self.outbox.enqueue("story", kind, hook.url, raw, self._signer(hook), guid=event_id)
            for hook in list(self.webhooks.values())
            if not hook.disabled
        ]

    def _signer(self, hook: Webhook) -> Signer:
        def sign(delivery: Delivery, attempt: int, forge_with: str | None = None) -> dict[str, str]:
            headers = {"Content-Type": "application/json", "User-Agent": "Shortcut-Webhooks"}
            secret = forge_with or hook.secret
            if secret:
                headers["Payload-Signature"] = hmac_sha256_hex(secret, delivery.body)
            return headers

        return sign

    # -- a person at the tracker ---------------------------------------------------------------------
    def _ticket(self, key: str) -> Story:
        number = key.strip().lower().removeprefix("sc-")
        try:
            return self.story_for(number)
        except ApiError:
            raise ControlError(f"no story {key} (or it was deleted)", 404) from None

    def _move(self, key: str, actor: str, types: tuple[str, ...]) -> None:
        story = self._ticket(key)
        workflow = self.workflows[story.workflow_id]
        target = next((s for s in workflow.states if s.type in types), None)
        if target is None:
            raise ControlError(f"the workflow {workflow.name} has no {' or '.join(types)} state")
        found = self.state(story.workflow_state_id)
        if found is not None and found[1].type in types:
            raise ControlError(f"sc-{story.id} is already in {found[1].name}")
        self.update_story(story, actor, {"workflow_state_id": target.id})

    def add_person(self, name: str, email: str, email_shown: bool) -> str:
        return self.add_member(name, email, email_shown=email_shown).id

    def ticket_json(self, key: str) -> dict[str, Any]:
        number = key.strip().lower().removeprefix("sc-")
        story = self.stories.get(int(number)) if number.isdigit() else None
        if story is None:
            raise ControlError(f"no story {key}", 404)
        return self.render.story(story)

    def close_ticket(self, key: str, actor: str) -> None:
        self._move(key, actor, ("done",))

    def reopen_ticket(self, key: str, actor: str) -> None:
        self._move(key, actor, ("unstarted",))

    def comment_ticket(self, key: str, actor: str, text: str) -> None:
        self.add_comment(self._ticket(key), actor, text)

    def assign_ticket(self, key: str, actor: str, account: str | None) -> None:
        self.update_story(self._ticket(key), actor, {"owner_ids": [account] if account else []})

    def delete_ticket(self, key: str, actor: str) -> None:
        self.delete_story(self._ticket(key), actor)
