"""Shortcut: REST v3 stories in workflows, a pasted API token, HMAC-signed workspace webhooks.

Keys are `sc-<story id>`, as Shortcut shows stories; the id is the story's for good (`tracker_id`),
whatever team, workflow or project it moves to.

A scope is the workspace, always written `workspace`. Everything Conduit does per scope is
workspace-wide in Shortcut: a token reaches one workspace; the outgoing webhook (`POST
/integrations/webhook`) fires for every story of it, so registering one per team would deliver each
change once per team; the query of what changed (`POST /stories/search`) and the workflows are the
workspace's. A team in the scope would also make `scope_of` impossible, since `sc-123` does not say
its team, and would change whenever the story moved. So `scope_of` is the same for every key, the
create target is that scope, reconcile lists the workspace once, and new stories start in the
workspace's default workflow.

Status: a workflow state; states of type `done` mean resolved unless the installation names its own
(`SyncConfig.resolved_statuses`), and `resolve_status`/`reopen_status` pick the state moved to, checked
against the workflows by `statuses()`.

Shortcut's deliveries say what changed, not the whole story (a state change names the new state but
not the owners), so the change applied is the story read again (`webhook_ticket`); the delivery gives
the kind of change, its time (`changed_at`), its author (`member_id`) and the comment.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from conduit.connectors.base import (
    Connector,
    TicketDraft,
    WebhookContext,
    deleted_ticket,
    header,
    load_webhook_json,
    moves_from,
    same_signature,
)
from conduit.connectors.config import SyncConfig
from conduit.connectors.errors import InvalidRequest, NotFound
from conduit.connectors.records import (
    AccountRecord,
    ChangeKind,
    CommentRecord,
    StatusCategory,
    TicketRecord,
    WebhookChange,
    WebhookRegistration,
    WebhookRejected,
)
from conduit.connectors.shortcut.catalog import SHORTCUT
from conduit.connectors.shortcut.directory import DIRECTORIES, Directory, Member, State
from conduit.connectors.text import markdown, time_or_none

WORKSPACE = "workspace"
KEY = re.compile(r"^sc-(?P<id>[1-9][0-9]{0,17})$", re.IGNORECASE)
STORY = "/stories/{id}"
CATEGORIES = {
    "backlog": StatusCategory.OPEN,
    "unstarted": StatusCategory.OPEN,
    "started": StatusCategory.IN_PROGRESS,
    "done": StatusCategory.DONE,
}
# Shortcut's search pages hold at most 25 stories.
SEARCH_PAGE = 25
# `POST /stories/search` answers in one unpaged list; at this many the list may be cut short, so the
# tickets are read one by one instead of trusting it.
QUERY_LIMIT = 1000
# What a delivery's `changes` may name for the move to be all that changed: the state, and what
# Shortcut derives from it.
STATE_CHANGES = frozenset(
    {"workflow_state_id", "started", "completed", "started_at", "completed_at", "position", "moved_at"}
)
APP = "https://app.shortcut.com"
SIGNATURE = "Payload-Signature"


def story_id(key: str) -> int:
    match = KEY.match(key.strip())
    if match is None:
        raise InvalidRequest(f"{key!r} is not a Shortcut story key; expected sc-<number>")
    return int(match.group("id"))


def check_scope(scope: str) -> str:
    if scope.strip().lower() != WORKSPACE:
        raise InvalidRequest(
            f"{scope!r} is not a Shortcut scope; Shortcut files stories in the workspace: use {WORKSPACE!r}"
        )
    return WORKSPACE


def _state(data: Any, workflow_id: int) -> State:
    return State(
        int(data["id"]),
        str(data.get("name", "")),
        str(data.get("type", "")),
        int(data.get("position", 0)),
        workflow_id,
    )


def _member(data: Any) -> Member:
    profile = data.get("profile") or {}
    email = profile.get("email_address")
    return Member(
        str(data["id"]),
        str(profile.get("name") or ""),
        str(profile.get("mention_name") or ""),
        email if isinstance(email, str) and email else None,
    )


class ShortcutConnector(Connector):
    provider = SHORTCUT

    @classmethod
    def scope_of(cls, key: str) -> str:
        return WORKSPACE

    @property
    def directory(self) -> Directory:
        return DIRECTORIES.of(self.api.endpoints.api, self.api.target.installation_id)

    # -- the workspace's names -----------------------------------------------------------------------
    async def _workflows(self) -> list[dict[str, Any]]:
        reply = await self.api.call("workflow.list", "GET", "/workflows")
        workflows = [w for w in reply.data or [] if isinstance(w, dict)]
        states = [
            _state(s, int(w["id"])) for w in workflows for s in w.get("states") or [] if isinstance(s, dict)
        ]
        self.directory.put_states(states)
        return workflows

    async def _members(self) -> list[Member]:
        reply = await self.api.call("member.list", "GET", "/members")
        members = [_member(m) for m in reply.data or [] if isinstance(m, dict) and not m.get("disabled")]
        self.directory.put_members(members)
        return members

    async def _names(self, stories: Sequence[dict[str, Any]], members: bool = True) -> None:
        """Read the workflows or members again when a story names one not known (see directory.py).

        `members=False` for a listing: it holds stories of the whole workspace, whose owners may be
        people this installation never met, and must stay one call; an owner not known yet is shown
        by id until the story is read on its own."""
        state_ids = {
            int(s["workflow_state_id"]) for s in stories if isinstance(s.get("workflow_state_id"), int)
        }
        owner_ids = {str(o) for s in stories for o in (s.get("owner_ids") or [])[:1]}
        if self.directory.needs_states(state_ids):
            await self._workflows()
        if members and owner_ids and self.directory.needs_members(owner_ids):
            await self._members()

    def ticket(self, data: Any) -> TicketRecord:
        if not isinstance(data, dict) or not isinstance(data.get("id"), int) or isinstance(data["id"], bool):
            raise InvalidRequest("Shortcut answered with something that is not a story")
        state = self.directory.states().get(data.get("workflow_state_id"))  # type: ignore[arg-type]
        owners = [str(o) for o in data.get("owner_ids") or []]
        owner = self.directory.members().get(owners[0]) if owners else None
        return TicketRecord(
            key=f"sc-{data['id']}",
            url=str(data.get("app_url", "")),
            title=str(data.get("name", "")),
            status=state.name if state else str(data.get("workflow_state_id", "")),
            status_category=CATEGORIES.get(state.type, StatusCategory.OPEN) if state else StatusCategory.OPEN,
            assignee_email=owner.email if owner else None,
            updated_at=time_or_none(data.get("updated_at")),
            # Shortcut shows a story's owners, several at most; Conduit follows the first.
            assignee=(owner.mention_name or owner.name or owner.id)
            if owner
            else (owners[0] if owners else None),
            assignee_id=owners[0] if owners else None,
            tracker_id=str(data["id"]),
        )

    async def _tickets(self, stories: list[dict[str, Any]], members: bool = True) -> list[TicketRecord]:
        await self._names(stories, members)
        return [self.ticket(s) for s in stories]

    # -- installing ----------------------------------------------------------------------------------
    async def discover_account(self) -> AccountRecord:
        """The token's workspace: what the installation acts for, whoever made the token."""
        reply = await self.api.call("account.discover", "GET", "/member")
        data = reply.data or {}
        workspace = data.get("workspace2") or {}
        if not isinstance(workspace, dict) or not workspace.get("id"):
            raise InvalidRequest("Shortcut did not say which workspace the token belongs to")
        slug = str(workspace.get("url_slug") or "")
        app = (self.api.site_url or APP).rstrip("/")
        return AccountRecord(
            id=str(workspace["id"]), name=str(workspace.get("name") or slug), url=f"{app}/{slug}"
        )

    async def register_webhook(self, scope: str, url: str, secret: str) -> WebhookRegistration:
        check_scope(scope)
        reply = await self.api.call(
            "webhook.register", "POST", "/integrations/webhook", json={"webhook_url": url, "secret": secret}
        )
        data = reply.data if isinstance(reply.data, dict) else {}
        return WebhookRegistration(id=str(data["id"]) if data.get("id") is not None else None, secret=secret)

    async def unregister_webhook(self, scope: str, webhook_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self.api.call(
                "webhook.unregister", "DELETE", "/integrations/webhook/{id}", path={"id": webhook_id}
            )

    # -- tickets -------------------------------------------------------------------------------------
    async def create_ticket(self, scope: str, draft: TicketDraft) -> TicketRecord:
        """A bug in the first unstarted state of the workspace's default workflow."""
        check_scope(scope)
        body: dict[str, Any] = {
            "name": draft.title[:512],
            "description": markdown(draft),
            "story_type": "bug",
        }
        if draft.labels:
            # By name: Shortcut uses the workspace's label of that name, or makes it.
            body["labels"] = [{"name": n} for n in draft.labels]
        reply = await self.api.call("ticket.create", "POST", "/stories", json=body)
        return (await self._tickets([reply.data]))[0]

    async def _story(self, key: str) -> dict[str, Any]:
        reply = await self.api.call("ticket.get", "GET", STORY, path={"id": story_id(key)})
        if not isinstance(reply.data, dict):
            raise InvalidRequest("Shortcut answered with something that is not a story")
        await self._names([reply.data])
        return reply.data

    async def get_ticket(self, key: str, known: TicketRecord | None = None) -> TicketRecord:
        return self.ticket(await self._story(key))

    async def webhook_ticket(self, record: TicketRecord, known: TicketRecord | None = None) -> TicketRecord:
        """The story now: a delivery names only what changed (see the module docstring). A move
        between states and nothing else gives the new state whole: the stored copy completes it.
        Anything else is read."""
        if record.given is not None and known is not None and not known.deleted and known.key == record.key:
            return record.completed(known)
        try:
            return await self.get_ticket(record.key)
        except NotFound:
            return self.deleted(record.key, record)

    def deleted(self, key: str, known: TicketRecord | None) -> TicketRecord:
        return deleted_ticket(key, known, tracker_id=str(story_id(key)) if known is None else None)

    async def changed_since(self, scope: str, since: datetime) -> list[TicketRecord] | None:
        """One query for the workspace's stories updated since `since` (deleted ones are not listed)."""
        check_scope(scope)
        body = {"updated_at_start": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "archived": False}
        reply = await self.api.call("ticket.list_changed", "POST", "/stories/search", json=body)
        stories = [s for s in reply.data or [] if isinstance(s, dict)]
        if len(stories) >= QUERY_LIMIT:
            return None
        return await self._tickets(stories, members=False)

    async def search(self, scope: str, text: str, limit: int = 20) -> list[TicketRecord]:
        """Shortcut's story search: every word must match (name or description)."""
        check_scope(scope)
        words = [w.replace('"', "") for w in text.split() if w.replace('"', "")]
        if not words:
            return []
        query = " ".join(f'"{w}"' if ":" in w else w for w in words)
        reply = await self.api.call(
            "ticket.search",
            "GET",
            "/search/stories",
            params={"query": query, "page_size": min(limit, SEARCH_PAGE), "detail": "slim"},
        )
        stories = [s for s in (reply.data or {}).get("data") or [] if isinstance(s, dict)]
        return (await self._tickets(stories))[:limit]

    async def set_status(
        self,
        key: str,
        resolved: bool,
        config: SyncConfig | None = None,
        known: TicketRecord | None = None,
    ) -> TicketRecord:
        """Move the story to a state of its own workflow: the configured one, else the first (by
        position) that counts as resolved, or for a reopen the first unstarted one.

        The workflows are kept (see directory.py); with the stored copy, the story's workflow is the
        one its state is in, and the move is one call. A stored state whose name several workflows
        share says no workflow, and the story is read first."""
        config = config or self.config
        number = story_id(key)
        if moves_from(known, key, resolved, config):
            states = self.directory.states()
            named = {s.workflow_id for s in states.values() if s.name == known.status}
            if len(named) == 1:
                with contextlib.suppress(InvalidRequest):
                    return await self._move(key, number, list(states.values()), named.pop(), resolved, config)
        story = await self._story(key)
        current = self.ticket(story)
        if config.is_resolved(current.status, current.status_category) == resolved:
            return current
        states = self.directory.states()
        state = states.get(story.get("workflow_state_id"))  # type: ignore[arg-type]
        workflow = story.get("workflow_id") or (state.workflow_id if state else None)
        return await self._move(key, number, list(states.values()), workflow, resolved, config)

    async def _move(
        self,
        key: str,
        number: int,
        states: list[State],
        workflow: int | None,
        resolved: bool,
        config: SyncConfig,
    ) -> TicketRecord:
        options = sorted(
            (s for s in states if workflow is None or s.workflow_id == workflow), key=lambda s: s.position
        )
        chosen = _pick_state(options, resolved, config)
        if chosen is None:
            names = ", ".join(s.name for s in options) or "none"
            wanted = "resolve" if resolved else "reopen"
            raise InvalidRequest(
                f"no state of the workflow of {key} can {wanted} it (its states: {names}); set the "
                f"installation's {wanted}_status to one of them"
            )
        reply = await self.api.call(
            "ticket.set_status", "PUT", STORY, path={"id": number}, json={"workflow_state_id": chosen.id}
        )
        return (await self._tickets([reply.data]))[0]

    async def statuses(self, scopes: Sequence[str]) -> list[str]:
        """Every state of the workspace's workflows."""
        for scope in scopes:
            check_scope(scope)
        workflows = await self._workflows()
        names = {
            str(s.get("name")): None for w in workflows for s in w.get("states") or [] if isinstance(s, dict)
        }
        return list(names)

    async def find_user(self, email: str) -> str | None:
        """Members are listed with their email; a member who hides it (or is disabled) is not found."""
        for member in await self._members():
            if member.email is not None and member.email.casefold() == email.strip().casefold():
                return member.id
        return None

    async def assign(self, key: str, account: str | None) -> TicketRecord:
        reply = await self.api.call(
            "ticket.assign",
            "PUT",
            STORY,
            path={"id": story_id(key)},
            json={"owner_ids": [account] if account else []},
        )
        return (await self._tickets([reply.data]))[0]

    async def comment(self, key: str, body: str) -> CommentRecord:
        reply = await self.api.call(
            "ticket.comment", "POST", STORY + "/comments", path={"id": story_id(key)}, json={"text": body}
        )
        data = reply.data or {}
        return CommentRecord(id=str(data.get("id")), url=data.get("app_url"))

    # -- webhooks in ---------------------------------------------------------------------------------
    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        context: WebhookContext | None = None,
    ) -> None:
        """`Payload-Signature` is the hex HMAC-SHA256 of the body and nothing else; the installation is
        the one whose secret matches. The deprecated `Clubhouse-Signature` is not read."""
        if not secret:
            raise WebhookRejected("no webhook secret is configured for this installation")
        given = header(headers, SIGNATURE)
        if not given:
            raise WebhookRejected(f"the delivery is not signed (no {SIGNATURE})")
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not same_signature(expected, given):
            raise WebhookRejected(f"the {SIGNATURE} signature does not match the body")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookChange:
        document = load_webhook_json(body)
        if not isinstance(document, dict) or not isinstance(document.get("actions"), list):
            raise WebhookRejected("the delivery has no actions")
        try:
            return self._change(document)
        except (AttributeError, TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
            # A signed body is still untrusted input: any shape Shortcut never sends is malformed.
            raise WebhookRejected(f"the delivery is malformed: {str(exc)[:200]}") from None

    def _change(self, document: dict[str, Any]) -> WebhookChange:
        delivery = document.get("id")
        if not isinstance(delivery, str) or not delivery:
            # No delivery header: the event's id is what a delivery is known by.
            raise WebhookRejected("the delivery has no event id")
        occurred = time_or_none(document.get("changed_at"))
        member = document.get("member_id")
        actor = member if isinstance(member, str) else None
        actions = [a for a in document["actions"] if isinstance(a, dict)]
        stories = [a for a in actions if a.get("entity_type") == "story"]
        primary = document.get("primary_id")
        story = next((a for a in stories if a.get("id") == primary), stories[0] if stories else None)
        if story is None or not isinstance(story.get("id"), int) or isinstance(story["id"], bool):
            return WebhookChange(delivery, ChangeKind.IGNORED, None, None, occurred, actor, event="story")
        action = str(story.get("action") or "")
        references = {
            r.get("id"): r
            for r in document.get("references") or []
            if isinstance(r, dict) and r.get("entity_type") == "workflow-state"
        }
        changes = story.get("changes")
        changes = {} if changes is None else changes
        if not isinstance(changes, dict):
            raise WebhookRejected("the story's changes are not an object")
        moved = changes.get("workflow_state_id")
        state_id = moved.get("new") if isinstance(moved, dict) else story.get("workflow_state_id")
        now = references.get(state_id) or {}
        status = str(now.get("name") or "")
        category = CATEGORIES.get(str(now.get("type") or ""), StatusCategory.OPEN)
        record = TicketRecord(
            key=f"sc-{story['id']}",
            url=str(story.get("app_url") or ""),
            title=str(story.get("name") or ""),
            status=status,
            status_category=category,
            assignee_email=None,
            updated_at=occurred,
            tracker_id=str(story["id"]),
        )
        kind, status_from, status_to, comment, comment_id = ChangeKind.IGNORED, None, None, None, None
        commented = next(
            (a for a in actions if a.get("entity_type") == "story-comment" and a.get("action") == "create"),
            None,
        )
        if action == "create":
            kind = ChangeKind.CREATED
        elif action == "delete":
            kind, record = ChangeKind.DELETED, replace(record, deleted=True)
        elif commented is not None:
            kind = ChangeKind.COMMENTED
            comment = str(commented.get("text") or "")
            comment_id = str(commented.get("id")) if commented.get("id") is not None else None
            author = commented.get("author_id")
            actor = author if isinstance(author, str) else actor
        elif isinstance(moved, dict):
            if set(changes) <= STATE_CHANGES and status:
                given = ("status", "status_category", "updated_at", "title", "url")
                record = replace(record, given=tuple(g for g in given if getattr(record, g)))
            before = references.get(moved.get("old")) or {}
            status_from, status_to = before.get("name"), status or None
            was = self.config.is_resolved(
                str(before.get("name") or ""),
                CATEGORIES.get(str(before.get("type") or ""), StatusCategory.OPEN),
            )
            resolved = self.config.is_resolved(status, category)
            kind = (
                ChangeKind.CLOSED
                if resolved and not was
                else ChangeKind.REOPENED
                if was and not resolved
                else ChangeKind.STATUS_CHANGED
            )
        elif isinstance(changes.get("owner_ids"), dict):
            owners = changes["owner_ids"]
            kind = ChangeKind.ASSIGNED if owners.get("adds") else ChangeKind.UNASSIGNED
            added = owners.get("adds") or []
            if isinstance(added, list) and added:
                record = replace(record, assignee_id=str(added[0]), assignee=str(added[0]))
        elif changes:
            kind = ChangeKind.EDITED
        return WebhookChange(
            delivery_id=delivery,
            kind=kind,
            key=record.key,
            ticket=record,
            occurred_at=occurred,
            actor=actor,
            event=f"story.{action}" if action else "story",
            comment=comment,
            comment_id=comment_id,
            status_from=status_from,
            status_to=status_to,
        )


def _pick_state(options: list[State], resolved: bool, config: SyncConfig) -> State | None:
    def category(s: State) -> StatusCategory:
        return CATEGORIES.get(s.type, StatusCategory.OPEN)

    wanted = config.resolve_status if resolved else config.reopen_status
    if wanted:
        return next((s for s in options if s.name.casefold() == wanted.casefold()), None)
    if resolved:
        return next((s for s in options if config.is_resolved(s.name, category(s))), None)
    reopen = [s for s in options if not config.is_resolved(s.name, category(s))]
    return next((s for s in reopen if s.type == "unstarted"), reopen[0] if reopen else None)


__all__ = ["ShortcutConnector"]
