"""Linear: one GraphQL endpoint, issues in teams, workflow states by type, HMAC-signed webhooks.

Keys are identifiers, `ENG-123` (the team's key and the issue's number); a scope is a team key.
An issue moved to another team gets a new identifier and keeps its UUID, which is the record's
`tracker_id`; Linear still answers to the old identifier.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import re
import time
from collections import defaultdict
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
from conduit.connectors.errors import InvalidRequest, NotFound, Unauthorized
from conduit.connectors.linear import graphql
from conduit.connectors.linear.catalog import LINEAR
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
from conduit.connectors.text import markdown, parse_time
from conduit.connectors.workflows import WorkflowCache

KEY = re.compile(r"^(?P<team>[A-Z][A-Z0-9_]*)-(?P<number>[0-9]+)$")
TEAM = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Workflow state types; completed and canceled both close an issue.
CATEGORIES = {
    "triage": StatusCategory.OPEN,
    "backlog": StatusCategory.OPEN,
    "unstarted": StatusCategory.OPEN,
    "started": StatusCategory.IN_PROGRESS,
    "completed": StatusCategory.DONE,
    "canceled": StatusCategory.DONE,
    "duplicate": StatusCategory.DONE,
}
# Where a reopened issue goes, best first: to do, then the backlog, then triage.
REOPEN_ORDER = ("unstarted", "backlog", "triage", "started")
RESOURCE_TYPES = ["Issue", "Comment"]
# Each team's workflow states, as `ISSUE_STATES` reads them.
_STATES = WorkflowCache()
# Label ids by (API root, installation, team id), then by folded name: labels are rarely renamed or
# deleted, and a label that is gone makes the create fail, which drops them (`create_ticket`).
_LABELS: dict[tuple[str, int, str], dict[str, str]] = {}
# Connections are read 100 at a time (Linear's default is 50); a listing of changes pages through
# at most MAX_PAGES before falling back to reads by key.
PAGE = 100
MAX_PAGES = 10
# Linear signs `webhookTimestamp` (ms) with the body; a delivery further than this from now is a
# replay or was held back, and Linear's own SDK refuses it at the same bound.
WEBHOOK_TOLERANCE = 60.0
# `https://linear.app/<workspace>/issue/ENG-123/<title-slug>`: the slug follows the title around.
SLUG = re.compile(r"(/issue/[A-Z][A-Z0-9_]*-[0-9]+)/[^/?#]*$")


def check_key(key: str) -> str:
    key = key.strip().upper()
    if not KEY.match(key):
        raise InvalidRequest(f"{key!r} is not a Linear issue identifier; expected TEAM-123")
    return key


def check_team(scope: str) -> str:
    scope = scope.strip().upper()
    if not TEAM.match(scope):
        raise InvalidRequest(f"{scope!r} is not a Linear team key; expected letters and digits, e.g. ENG")
    return scope


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def ticket(data: Any) -> TicketRecord:
    """An issue as the API selects it (`graphql.ISSUE_FIELDS`) or a webhook's `data` has it."""
    if not isinstance(data, dict) or not isinstance(data.get("identifier"), str):
        raise InvalidRequest("Linear answered with something that is not an issue")
    state, assignee = _obj(data.get("state")), _obj(data.get("assignee"))
    url = str(data.get("url") or "")
    return TicketRecord(
        key=data["identifier"],
        url=SLUG.sub(r"\1", url),
        title=str(data.get("title") or ""),
        status=str(state.get("name") or ""),
        status_category=CATEGORIES.get(str(state.get("type") or ""), StatusCategory.OPEN),
        assignee_email=assignee.get("email") if isinstance(assignee.get("email"), str) else None,
        updated_at=parse_time(data.get("updatedAt")),
        assignee=assignee.get("displayName") or assignee.get("name"),
        assignee_id=assignee.get("id") or data.get("assigneeId"),
        tracker_id=str(data["id"]) if data.get("id") else None,
        # Deleting an issue moves it to the trash, where it can still be read for a while.
        deleted=bool(data.get("trashed")),
    )


class LinearConnector(Connector):
    provider = LINEAR

    @classmethod
    def scope_of(cls, key: str) -> str:
        return key.rsplit("-", 1)[0]

    async def _gql(self, operation: str, document: str, **variables: Any) -> dict[str, Any]:
        return await graphql.call(self.api, operation, document, variables)

    # -- installing ----------------------------------------------------------------------------------
    async def discover_account(self) -> AccountRecord:
        """The workspace (organization) the grant acts in."""
        viewer = (await self._gql("account.discover", graphql.VIEWER)).get("viewer") or {}
        organization = viewer.get("organization") or {}
        if not organization.get("id"):
            raise InvalidRequest("Linear named no workspace for this grant")
        site = self.api.site_url or "https://linear.app"
        url_key = organization.get("urlKey")
        return AccountRecord(
            id=str(organization["id"]),
            name=str(organization.get("name") or url_key or ""),
            url=f"{site}/{url_key}" if url_key else site,
        )

    async def register_webhook(self, scope: str, url: str, secret: str) -> WebhookRegistration:
        """Linear signs with the secret it is given here (`Linear-Signature`)."""
        body = {
            "url": url,
            "teamId": check_team(scope),
            "resourceTypes": RESOURCE_TYPES,
            "secret": secret,
            "label": "Conduit",
        }
        data = await self._gql("webhook.register", graphql.WEBHOOK_CREATE, input=body)
        hook = (data.get("webhookCreate") or {}).get("webhook") or {}
        if not hook.get("id"):
            raise InvalidRequest("Linear created no webhook")
        return WebhookRegistration(id=str(hook["id"]), secret=secret)

    async def unregister_webhook(self, scope: str, webhook_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self._gql("webhook.unregister", graphql.WEBHOOK_DELETE, id=webhook_id)

    async def revoke(self, access_token: str) -> bool:
        """`POST /oauth/revoke` with the token itself as the credential."""
        url = re.sub(r"/token$", "/revoke", self.api.endpoints.token)
        # A token already revoked or expired: the grant is gone either way.
        with contextlib.suppress(Unauthorized, NotFound, InvalidRequest):
            await self.api.http.request(
                self.api.target,
                "token.revoke",
                "POST",
                url,
                template="/oauth/revoke",
                limits=self.provider.rate_limit,
                headers={"Authorization": f"Bearer {access_token}"},
                form={"token": access_token, "token_type_hint": "access_token"},
            )
        return True

    # -- tickets -------------------------------------------------------------------------------------
    def deleted(self, key: str, known: TicketRecord | None) -> TicketRecord:
        return deleted_ticket(key, known)

    async def _team(self, scope: str) -> dict[str, Any]:
        data = await self._gql("team.get", graphql.TEAM_BY_KEY, key=check_team(scope))
        nodes = (data.get("teams") or {}).get("nodes") or []
        if not nodes:
            raise NotFound(f"Linear has no team {scope!r} that this installation can see")
        team: dict[str, Any] = nodes[0]
        return team

    async def create_ticket(self, scope: str, draft: TicketDraft) -> TicketRecord:
        """The issue, then an attachment linking back to Conduit (one per URL: creating it again
        updates it), which shows in Linear's sidebar and survives edits to the description."""
        team = await self._team(scope)
        body: dict[str, Any] = {
            "teamId": team["id"],
            "title": draft.title.replace("\n", " ")[:255],
            "description": markdown(draft),
        }
        if draft.labels:
            body["labelIds"] = await self._label_ids(str(team["id"]), draft.labels)
        try:
            data = await self._gql("ticket.create", graphql.ISSUE_CREATE, input=body)
        except (NotFound, InvalidRequest):
            if not draft.labels:
                raise
            # A kept label id may be of a label deleted since: look the names up again, once.
            _LABELS.pop((self.api.endpoints.api, self.api.target.installation_id, str(team["id"])), None)
            body["labelIds"] = await self._label_ids(str(team["id"]), draft.labels)
            data = await self._gql("ticket.create", graphql.ISSUE_CREATE, input=body)
        issue = _obj(_obj(data.get("issueCreate")).get("issue"))
        record = ticket(issue)
        link = {"issueId": issue["id"], "url": draft.issue_url, "title": "Conduit issue"}
        linked = await self._gql("ticket.link", graphql.ATTACHMENT_CREATE, input=link)
        attached = ((linked.get("attachmentCreate") or {}).get("attachment") or {}).get("issue")
        return ticket(attached) if attached else record

    async def _label_ids(self, team_id: str, names: Sequence[str]) -> list[str]:
        """Linear labels issues by id: each name is the team's label of that name, else the
        workspace's, else a new label of the team. Found ids are kept per team (`_LABELS`), so a
        rule's tickets after the first cost no lookup."""
        cache = _LABELS.setdefault((self.api.endpoints.api, self.api.target.installation_id, team_id), {})
        missing = [n for n in names if n.casefold() not in cache]
        if missing:
            data = await self._gql("label.find", graphql.LABELS, names=missing)
            found = [n for n in (data.get("issueLabels") or {}).get("nodes") or [] if isinstance(n, dict)]
            # The team's own label wins over the workspace's of the same name.
            for node in sorted(found, key=lambda n: (n.get("team") or {}).get("id") == team_id):
                team_of = (node.get("team") or {}).get("id")
                if team_of in (None, team_id) and isinstance(node.get("id"), str):
                    cache[str(node.get("name")).casefold()] = node["id"]
            for name in missing:
                if name.casefold() not in cache:
                    made = await self._gql(
                        "label.create", graphql.LABEL_CREATE, input={"name": name, "teamId": team_id}
                    )
                    label = _obj(_obj(made.get("issueLabelCreate")).get("issueLabel"))
                    if not isinstance(label.get("id"), str):
                        raise InvalidRequest(f"Linear made no label {name!r}")
                    cache[name.casefold()] = label["id"]
        return list(dict.fromkeys(cache[n.casefold()] for n in names))

    async def get_ticket(self, key: str, known: TicketRecord | None = None) -> TicketRecord:
        return await self._read(check_key(key))

    async def _read(self, issue_id: str) -> TicketRecord:
        """The issue by identifier or UUID; one in the trash reads as gone."""
        data = await self._gql("ticket.get", graphql.ISSUE_GET, id=issue_id)
        record = ticket(data.get("issue"))
        if record.deleted:
            raise NotFound(f"{record.key} was deleted in Linear (it is in the trash)")
        return record

    async def webhook_ticket(self, record: TicketRecord, known: TicketRecord | None = None) -> TicketRecord:
        """An Issue delivery carries the whole issue; a Comment delivery names its issue without its
        state (`_comment_change` leaves `updated_at` unset), so that one is read by its UUID."""
        if record.updated_at is not None:
            return record
        try:
            return await self._read(record.tracker_id or check_key(record.key))
        except NotFound:
            return self.deleted(record.key, record)

    async def get_tickets(
        self, keys: Sequence[str], known: Mapping[str, TicketRecord] | None = None
    ) -> dict[str, TicketRecord]:
        """One `issues` query per 100 keys: by UUID where the stored copy has it (so an issue moved
        to another team is found, under its new key), else by team key and number. A key it leaves
        out is read on its own, which also finds an issue by an identifier it had before a move."""
        known = known or {}
        wanted = list(dict.fromkeys(check_key(k) for k in keys))
        found: dict[str, TicketRecord] = {}
        seen: set[str] = set()
        for start in range(0, len(wanted), PAGE):
            chunk = wanted[start : start + PAGE]
            uuids = [r.tracker_id for k in chunk if (r := known.get(k)) is not None and r.tracker_id]
            numbers: dict[str, list[int]] = defaultdict(list)
            for key in chunk:
                team, number = key.rsplit("-", 1)
                numbers[team].append(int(number))
            alternatives: list[dict[str, Any]] = [{"id": {"in": uuids}}] if uuids else []
            alternatives += [{"team": {"key": {"eq": t}}, "number": {"in": n}} for t, n in numbers.items()]
            data = await self._gql(
                "ticket.get_many", graphql.ISSUES, filter={"or": alternatives}, first=len(chunk) + len(uuids)
            )
            for node in (data.get("issues") or {}).get("nodes") or []:
                record = ticket(node)
                if record.deleted:
                    gone = self.deleted(record.key, known.get(record.key))
                    record = replace(gone, tracker_id=record.tracker_id)
                found[record.key] = record
                seen.add(record.tracker_id or record.key)
        missing = [
            k
            for k in wanted
            if k not in found and not ((r := known.get(k)) is not None and r.tracker_id in seen)
        ]
        if missing:
            found |= await super().get_tickets(missing, known)
        return found

    async def changed_since(self, scope: str, since: datetime) -> list[TicketRecord] | None:
        """The team's issues updated after `since`, 100 a page, trashed ones included (as deleted)."""
        issue_filter = {
            "team": {"key": {"eq": check_team(scope)}},
            "updatedAt": {"gt": since.astimezone(UTC).isoformat().replace("+00:00", "Z")},
        }
        found: list[TicketRecord] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            data = await self._gql(
                "ticket.list_changed", graphql.ISSUES, filter=issue_filter, first=PAGE, after=after
            )
            connection = data.get("issues") or {}
            found += [ticket(node) for node in connection.get("nodes") or []]
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return found
            after = page.get("endCursor")
        return None

    async def search(self, scope: str, text: str, limit: int = 20) -> list[TicketRecord]:
        issue_filter = {"team": {"key": {"eq": check_team(scope)}}}
        first = max(1, min(limit, PAGE))
        if text.strip():
            data = await self._gql(
                "ticket.search", graphql.SEARCH, term=text, filter=issue_filter, first=first
            )
            nodes = (data.get("searchIssues") or {}).get("nodes") or []
        else:
            data = await self._gql("ticket.search", graphql.ISSUES, filter=issue_filter, first=first)
            nodes = (data.get("issues") or {}).get("nodes") or []
        records = [ticket(node) for node in nodes]
        return [r for r in records if not r.deleted][:limit]

    async def set_status(
        self,
        key: str,
        resolved: bool,
        config: SyncConfig | None = None,
        known: TicketRecord | None = None,
    ) -> TicketRecord:
        """Move the issue to a state of its team: the configured one, else the first completed
        state (resolve) or the first to-do state (reopen).

        With the stored copy and its team's states known (kept per team, see `workflows`), that is
        the one `issueUpdate`; otherwise the issue and its team's states are read first. A state the
        team no longer has is refused by Linear: the states are dropped and read with the issue."""
        config = config or self.config
        key = check_key(key)
        team = self.scope_of(key)
        cached = _STATES.get(self.api.endpoints.api, self.api.target.installation_id, team)
        if isinstance(cached, list) and moves_from(known, key, resolved, config):
            chosen = _pick_state(cached, resolved, config)
            if chosen is not None:
                with contextlib.suppress(InvalidRequest, NotFound):
                    return await self._update(key, {"stateId": chosen["id"]}, "ticket.set_status")
                _STATES.drop(self.api.endpoints.api, self.api.target.installation_id, team)
        data = await self._gql("ticket.states", graphql.ISSUE_STATES, id=key)
        issue = data.get("issue") or {}
        current = ticket(issue)
        if current.deleted:
            raise NotFound(f"{key} was deleted in Linear (it is in the trash)")
        states = [
            s
            for s in ((issue.get("team") or {}).get("states") or {}).get("nodes") or []
            if isinstance(s, dict)
        ]
        _STATES.put(
            self.api.endpoints.api, self.api.target.installation_id, self.scope_of(current.key), states
        )
        if config.is_resolved(current.status, current.status_category) == resolved:
            return current
        chosen = _pick_state(states, resolved, config)
        if chosen is None:
            names = ", ".join(str(s.get("name")) for s in states) or "none"
            wanted = "resolve" if resolved else "reopen"
            raise InvalidRequest(
                f"no workflow state of {key}'s team can {wanted} it (states: {names}); set the "
                f"installation's {wanted}_status to one of them"
            )
        return await self._update(key, {"stateId": chosen["id"]}, "ticket.set_status")

    async def _update(self, key: str, changes: dict[str, Any], operation: str) -> TicketRecord:
        data = await self._gql(operation, graphql.ISSUE_UPDATE, id=key, input=changes)
        return ticket((data.get("issueUpdate") or {}).get("issue"))

    async def statuses(self, scopes: Sequence[str]) -> list[str]:
        """Every workflow state of the teams, in their board order; NotFound for a team the
        installation cannot see."""
        keys = list(dict.fromkeys(check_team(s) for s in scopes))
        data = await self._gql("project.statuses", graphql.TEAM_STATES, keys=keys)
        teams = [t for t in (data.get("teams") or {}).get("nodes") or [] if isinstance(t, dict)]
        missing = sorted(set(keys) - {str(t.get("key")) for t in teams})
        if missing:
            raise NotFound(f"Linear has no team {', '.join(missing)} that this installation can see")
        names: dict[str, None] = {}
        for team in teams:
            states = ((team or {}).get("states") or {}).get("nodes") or []
            for state in sorted(states, key=lambda s: float(s.get("position") or 0)):
                names[str(state.get("name"))] = None
        return list(names)

    async def find_user(self, email: str) -> str | None:
        """Linear shows every member's email to the workspace, so an exact match is the user."""
        data = await self._gql("user.search", graphql.USER_BY_EMAIL, email=email)
        users = [u for u in (data.get("users") or {}).get("nodes") or [] if isinstance(u, dict)]
        matches = [u for u in users if str(u.get("email") or "").casefold() == email.casefold()]
        return str(matches[0]["id"]) if len(matches) == 1 and matches[0].get("id") else None

    async def assign(self, key: str, account: str | None) -> TicketRecord:
        return await self._update(check_key(key), {"assigneeId": account}, "ticket.assign")

    async def comment(self, key: str, body: str) -> CommentRecord:
        data = await self._gql(
            "ticket.comment", graphql.COMMENT_CREATE, input={"issueId": check_key(key), "body": body}
        )
        made = (data.get("commentCreate") or {}).get("comment") or {}
        return CommentRecord(id=str(made.get("id")), url=made.get("url"))

    # -- webhooks in ---------------------------------------------------------------------------------
    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        context: WebhookContext | None = None,
    ) -> None:
        """The HMAC covers the raw body, and the body carries when it was sent (`webhookTimestamp`),
        the workspace (`organizationId`) and the webhook (`webhookId`): a signed delivery is also
        checked to be fresh and to be about this installation."""
        if not secret:
            raise WebhookRejected("no webhook secret is configured for this installation")
        given = header(headers, "Linear-Signature")
        if not given:
            raise WebhookRejected("the delivery is not signed (no Linear-Signature)")
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not same_signature(expected, given):
            raise WebhookRejected("the Linear-Signature signature does not match the body")
        try:
            document = load_webhook_json(body)
        except WebhookRejected:
            # Signed, but no JSON: parsing refuses it and says why.
            return
        if not isinstance(document, dict):
            return
        _check_timestamp(document.get("webhookTimestamp"), time.time())
        if context is None:
            return
        organization = document.get("organizationId")
        if context.account_id and organization != context.account_id:
            raise WebhookRejected("the delivery is for another Linear workspace (organizationId)")
        webhook = document.get("webhookId")
        if context.webhook_ids and str(webhook) not in context.webhook_ids:
            raise WebhookRejected("the delivery is for a webhook Conduit did not register here (webhookId)")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookChange:
        document = load_webhook_json(body)
        if not isinstance(document, dict):
            raise WebhookRejected("the delivery body is not a JSON object")
        kind, action = document.get("type"), document.get("action")
        if not isinstance(kind, str) or not isinstance(action, str):
            raise WebhookRejected("the delivery has no type and action")
        try:
            return self._change(header(headers, "Linear-Delivery"), kind, action, document)
        except (AttributeError, TypeError, ValueError, OverflowError, RecursionError) as exc:
            # A signed body is still untrusted input: any shape Linear never sends is malformed.
            raise WebhookRejected(f"the delivery is malformed: {str(exc)[:200]}") from None

    def _change(
        self, delivery: str | None, kind: str, action: str, document: dict[str, Any]
    ) -> WebhookChange:
        event = f"{kind}.{action}"
        actor_data = document.get("actor")
        actor = str(actor_data["id"]) if isinstance(actor_data, dict) and actor_data.get("id") else None
        occurred = parse_time(document.get("createdAt"))
        data = document.get("data")
        if not isinstance(data, dict):
            raise WebhookRejected("the delivery has no data object")
        if kind == "Comment":
            return self._comment_change(delivery, action, data, actor, occurred, event)
        if kind != "Issue":
            return WebhookChange(delivery, ChangeKind.IGNORED, None, None, occurred, actor, event=event)
        try:
            record = ticket(data)
        except InvalidRequest as exc:
            raise WebhookRejected(f"the issue in the delivery is malformed: {exc}") from None
        before = document.get("updatedFrom") or {}
        if not isinstance(before, dict):
            raise WebhookRejected("the delivery's updatedFrom is not an object")
        status_from: str | None = None
        if action == "create":
            change = ChangeKind.CREATED
        elif action == "remove" or record.deleted:
            change, record = ChangeKind.DELETED, replace(record, deleted=True)
        elif action != "update":
            change = ChangeKind.IGNORED
        elif "stateId" in before:
            status_from = str(before["stateId"]) if before["stateId"] is not None else None
            was = _was_closed(before, record)
            now = self.config.is_resolved(record.status, record.status_category)
            change = (
                ChangeKind.CLOSED
                if now and not was
                else ChangeKind.REOPENED
                if was and not now
                else ChangeKind.STATUS_CHANGED
            )
        elif "assigneeId" in before:
            change = ChangeKind.ASSIGNED if record.assignee_id else ChangeKind.UNASSIGNED
        elif before:
            change = ChangeKind.EDITED
        else:
            change = ChangeKind.IGNORED
        return WebhookChange(
            delivery_id=delivery,
            kind=change,
            key=record.key,
            ticket=record,
            # The issue's own updatedAt orders changes to it; the delivery's time is the fallback.
            occurred_at=record.updated_at or occurred,
            actor=actor,
            event=event,
            status_from=status_from,
            status_to=record.status or None,
        )

    def _comment_change(
        self,
        delivery: str | None,
        action: str,
        data: dict[str, Any],
        actor: str | None,
        occurred: datetime | None,
        event: str,
    ) -> WebhookChange:
        """A comment names its issue but not the issue's state: the record it comes with has no
        `updated_at`, and `webhook_ticket` reads the issue before the change is applied."""
        issue = _obj(data.get("issue"))
        key = issue.get("identifier")
        if action != "create" or not isinstance(key, str):
            return WebhookChange(delivery, ChangeKind.IGNORED, None, None, occurred, actor, event=event)
        body = data.get("body")
        author = data.get("userId") or _obj(data.get("user")).get("id")
        named = TicketRecord(
            key=key,
            url=SLUG.sub(r"\1", str(issue.get("url") or "")),
            title=str(issue.get("title") or ""),
            status="",
            status_category=StatusCategory.OPEN,
            assignee_email=None,
            updated_at=None,
            tracker_id=str(issue["id"]) if issue.get("id") else None,
        )
        return WebhookChange(
            delivery_id=delivery,
            kind=ChangeKind.COMMENTED,
            key=key,
            ticket=named,
            occurred_at=parse_time(data.get("createdAt")) or occurred,
            actor=str(author) if author else actor,
            event=event,
            comment=body if isinstance(body, str) else None,
            comment_id=str(data["id"]) if data.get("id") else None,
        )


def _check_timestamp(value: Any, now: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise WebhookRejected("the delivery has no webhookTimestamp")
    skew = value / 1000 - now
    if abs(skew) > WEBHOOK_TOLERANCE:
        when = "ahead of" if skew > 0 else "behind"
        raise WebhookRejected(
            f"the delivery's webhookTimestamp is {abs(skew):.0f} s {when} now (more than "
            f"{WEBHOOK_TOLERANCE:.0f} s): a replayed or held-back delivery"
        )


def _was_closed(before: Mapping[str, Any], now: TicketRecord) -> bool:
    """The delivery names the old state's id, not its type. Linear sets `completedAt` or
    `canceledAt` when an issue enters a completed or canceled state and clears it when it leaves,
    so their old values (in `updatedFrom` when they changed) say which side it came from."""
    marks = [before[k] for k in ("completedAt", "canceledAt") if k in before]
    if any(m is not None for m in marks):
        return True
    if marks:
        return False
    return now.status_category is StatusCategory.DONE


def _pick_state(states: list[dict[str, Any]], resolved: bool, config: SyncConfig) -> dict[str, Any] | None:
    def category(state: dict[str, Any]) -> StatusCategory:
        return CATEGORIES.get(str(state.get("type") or ""), StatusCategory.OPEN)

    ordered = sorted(states, key=lambda s: float(s.get("position") or 0))
    wanted = config.resolve_status if resolved else config.reopen_status
    if wanted:
        return next((s for s in ordered if str(s.get("name") or "").casefold() == wanted.casefold()), None)
    if resolved:
        closing = [s for s in ordered if config.is_resolved(str(s.get("name") or ""), category(s))]
        return next((s for s in closing if s.get("type") == "completed"), closing[0] if closing else None)
    opening = [s for s in ordered if not config.is_resolved(str(s.get("name") or ""), category(s))]
    for kind in REOPEN_ORDER:
        found = next((s for s in opening if s.get("type") == kind), None)
        if found is not None:
            return found
    return opening[0] if opening else None


__all__ = ["LinearConnector"]
