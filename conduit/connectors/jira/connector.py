"""Jira: REST v3, ADF documents, workflow transitions, JWT (or X-Hub-Signature) signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

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
from conduit.connectors.errors import InvalidRequest
from conduit.connectors.jira import adf
from conduit.connectors.jira.catalog import JIRA
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
from conduit.connectors.text import parse_time
from conduit.connectors.workflows import WorkflowCache

KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[0-9]+$")
PROJECT = re.compile(r"^[A-Z][A-Z0-9_]*$")
FIELDS = "summary,status,assignee,updated,issuetype"
# Each ticket's issue type, and the transitions of a (project, issue type, status): see `set_status`.
_ISSUE_TYPES = WorkflowCache(ttl=86_400)
_TRANSITIONS = WorkflowCache()
CATEGORIES = {
    "new": StatusCategory.OPEN,
    "indeterminate": StatusCategory.IN_PROGRESS,
    "done": StatusCategory.DONE,
}
WEBHOOK_EVENTS = ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created"]
# JQL `key in (...)` lists stay well under URL limits at this size.
SEARCH_BATCH = 50
# Clock skew forgiven on a delivery JWT's iat and exp, and the longest a delivery's token may live or
# be held before it arrives: Jira signs each attempt as it sends it.
JWT_LEEWAY = 30
JWT_MAX_AGE = 600


def check_key(key: str) -> str:
    key = key.strip().upper()
    if not KEY.match(key):
        raise InvalidRequest(f"{key!r} is not a Jira issue key; expected PROJECT-123")
    return key


def check_project(scope: str) -> str:
    scope = scope.strip().upper()
    if not PROJECT.match(scope):
        raise InvalidRequest(f"{scope!r} is not a Jira project key; expected letters and digits, e.g. OPS")
    return scope


def description(draft: TicketDraft) -> dict[str, Any]:
    content = adf.paragraphs(draft.summary)
    if draft.exception:
        content.append(adf.paragraph(adf.text("Latest exception", strong=True)))
        content.append(adf.code_block(draft.exception))
    content.append(adf.paragraph(adf.text("View this issue in Conduit", link=draft.issue_url)))
    return adf.doc(*content)


class JiraConnector(Connector):
    provider = JIRA

    @classmethod
    def scope_of(cls, key: str) -> str:
        return key.rsplit("-", 1)[0]

    # -- reading records -----------------------------------------------------------------------------
    @property
    def site(self) -> str:
        """Where people browse tickets: the site URL (self-hosted base, or the Cloud site)."""
        return self.api.site_url or ""

    def ticket(self, data: Any) -> TicketRecord:
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise InvalidRequest("Jira answered with something that is not an issue")
        fields = data.get("fields") or {}
        status = fields.get("status") or {}
        category = (status.get("statusCategory") or {}).get("key", "new")
        assignee = fields.get("assignee") or {}
        return TicketRecord(
            key=data["key"],
            url=f"{self.site}/browse/{data['key']}",
            title=str(fields.get("summary") or ""),
            status=str(status.get("name") or ""),
            status_category=CATEGORIES.get(category, StatusCategory.OPEN),
            # Null when the user hides their email: assignee matching then falls back to nothing.
            assignee_email=assignee.get("emailAddress"),
            updated_at=parse_time(fields.get("updated")),
            assignee=assignee.get("displayName"),
            assignee_id=assignee.get("accountId"),
            # The numeric issue id: an issue moved to another project keeps it and gets a new key.
            tracker_id=str(data["id"]) if data.get("id") is not None else None,
        )

    def _remember(self, record: TicketRecord, data: Any) -> None:
        """Keep the issue type of a ticket Jira sent: it picks the workflow, so a later status change
        can use the transitions kept for it (`set_status`)."""
        kind = (data.get("fields") or {}).get("issuetype")
        if isinstance(kind, dict) and isinstance(kind.get("id"), str | int):
            where = (self.api.endpoints.api, self.api.target.installation_id)
            _ISSUE_TYPES.put(*where, record.key, str(kind["id"]))

    def deleted(self, key: str, known: TicketRecord | None) -> TicketRecord:
        return deleted_ticket(key, known, url=f"{self.site}/browse/{key}")

    # -- installing ----------------------------------------------------------------------------------
    async def discover_account(self) -> AccountRecord:
        resources = self.api.endpoints.resources
        if resources is not None:
            reply = await self.api.call("account.discover", "GET", resources, url=resources)
            sites = [s for s in reply.data or [] if isinstance(s, dict)]
            if not sites:
                raise InvalidRequest("the Jira grant reaches no site; install again and pick a site")
            site = sites[0]
            return AccountRecord(id=str(site["id"]), name=str(site.get("name", "")), url=site.get("url"))
        # Self-hosted: the base URL is the site; confirm the token works on it.
        reply = await self.api.call("account.discover", "GET", "/myself")
        base = self.site or str(httpx.URL(self.api.endpoints.api).copy_with(path="/"))
        return AccountRecord(id=base, name=httpx.URL(base).host, url=base)

    async def register_webhook(self, scope: str, url: str, secret: str) -> WebhookRegistration:
        """Dynamic webhooks are signed with the app's client secret (a JWT), not `secret`."""
        jql = f"project = {check_project(scope)}"
        body = {"url": url, "webhooks": [{"events": WEBHOOK_EVENTS, "jqlFilter": jql}]}
        reply = await self.api.call("webhook.register", "POST", "/webhook", json=body)
        results = (reply.data or {}).get("webhookRegistrationResult") or [{}]
        created = results[0].get("createdWebhookId")
        if created is None:
            errors = "; ".join(str(e) for e in results[0].get("errors") or ["no id returned"])
            raise InvalidRequest(f"Jira refused the webhook: {errors}")
        expires = datetime.fromtimestamp(time.time() + (self.provider.webhook_lifetime or 0), UTC)
        return WebhookRegistration(id=str(created), secret=None, expires_at=expires)

    async def refresh_webhook(self, webhook_id: str) -> datetime | None:
        reply = await self.api.call(
            "webhook.refresh", "PUT", "/webhook/refresh", json={"webhookIds": [int(webhook_id)]}
        )
        return parse_time((reply.data or {}).get("expirationDate"))

    async def unregister_webhook(self, scope: str, webhook_id: str) -> None:
        await self.api.call(
            "webhook.unregister", "DELETE", "/webhook", json={"webhookIds": [int(webhook_id)]}
        )

    # -- tickets -------------------------------------------------------------------------------------
    async def create_ticket(self, scope: str, draft: TicketDraft) -> TicketRecord:
        fields = {
            "project": {"key": check_project(scope)},
            "issuetype": {"name": self.config.issue_type},
            "summary": draft.title.replace("\n", " ")[:255],
            "description": description(draft),
        }
        if draft.labels:
            # Jira labels are free-form words: no spaces, so a space becomes a dash.
            fields["labels"] = ["-".join(n.split()) for n in draft.labels]
        reply = await self.api.call("ticket.create", "POST", "/issue", json={"fields": fields})
        return await self.get_ticket(str((reply.data or {})["key"]))

    async def get_ticket(self, key: str, known: TicketRecord | None = None) -> TicketRecord:
        # Jira has no ETags: every read is a full one.
        reply = await self.api.call(
            "ticket.get", "GET", "/issue/{key}", path={"key": check_key(key)}, params={"fields": FIELDS}
        )
        record = self.ticket(reply.data)
        self._remember(record, reply.data)
        return record

    async def get_tickets(
        self, keys: Sequence[str], known: Mapping[str, TicketRecord] | None = None
    ) -> dict[str, TicketRecord]:
        """One JQL search per 50 keys; a key the search leaves out is confirmed gone one by one."""
        wanted = list(dict.fromkeys(check_key(k) for k in keys))
        found: dict[str, TicketRecord] = {}
        for start in range(0, len(wanted), SEARCH_BATCH):
            chunk = wanted[start : start + SEARCH_BATCH]
            jql = f"key in ({', '.join(chunk)})"
            reply = await self.api.call(
                "ticket.get_many",
                "GET",
                "/search/jql",
                params={"jql": jql, "fields": FIELDS, "maxResults": len(chunk)},
            )
            for item in (reply.data or {}).get("issues") or []:
                record = self.ticket(item)
                self._remember(record, item)
                found[record.key] = record
        missing = [k for k in wanted if k not in found]
        if missing:
            found |= await super().get_tickets(missing, known)
        return found

    async def search(self, scope: str, text: str, limit: int = 20) -> list[TicketRecord]:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        jql = f"project = {check_project(scope)}"
        if text.strip():
            jql += f' AND text ~ "{escaped}"'
        reply = await self.api.call(
            "ticket.search",
            "GET",
            "/search/jql",
            params={"jql": jql + " ORDER BY updated DESC", "fields": FIELDS, "maxResults": min(limit, 100)},
        )
        records: list[TicketRecord] = []
        for item in (reply.data or {}).get("issues") or []:
            record = self.ticket(item)
            self._remember(record, item)
            records.append(record)
        return records

    async def set_status(
        self,
        key: str,
        resolved: bool,
        config: SyncConfig | None = None,
        known: TicketRecord | None = None,
    ) -> TicketRecord:
        """Move the ticket through whichever transition reaches the wanted status.

        Transition ids belong to a workflow (which a project's scheme picks by issue type) and to the
        status moved from. They are read with the ticket (`expand=transitions`) and kept by project,
        issue type and status, so a ticket whose stored copy and type are known moves in one call;
        otherwise two. A kept transition Jira refuses (the workflow was edited) is dropped and the
        ticket read. The transition answers 204 without a body; the ticket it leaves is the one read
        (or stored) with the transition's target status, which is what Jira sets, so it is not read
        back. Its `updated` stays the one known: the webhook Jira sends for the change is newer,
        finds the same fields, and changes nothing (the echo).
        """
        config = config or self.config
        key = check_key(key)
        where = (self.api.endpoints.api, self.api.target.installation_id)
        kind = _ISSUE_TYPES.get(*where, key)
        if moves_from(known, key, resolved, config) and isinstance(kind, str):
            workflow = (self.scope_of(key), kind, known.status)
            kept = _TRANSITIONS.get(*where, workflow)
            chosen = _pick_transition(kept, resolved, config) if isinstance(kept, list) else None
            if chosen is not None:
                try:
                    return await self._transition(key, chosen, known)
                except InvalidRequest:
                    _TRANSITIONS.drop(*where, workflow)
        reply = await self.api.call(
            "ticket.get",
            "GET",
            "/issue/{key}",
            path={"key": key},
            params={"fields": FIELDS, "expand": "transitions"},
        )
        current = self.ticket(reply.data)
        self._remember(current, reply.data)
        options = [t for t in (reply.data or {}).get("transitions") or [] if isinstance(t, dict)]
        kind = _ISSUE_TYPES.get(*where, current.key)
        if isinstance(kind, str):
            _TRANSITIONS.put(*where, (self.scope_of(current.key), kind, current.status), options)
        if config.is_resolved(current.status, current.status_category) == resolved:
            return current
        chosen = _pick_transition(options, resolved, config)
        if chosen is None:
            names = ", ".join(sorted(str((t.get("to") or {}).get("name")) for t in options)) or "none"
            wanted = "resolve" if resolved else "reopen"
            raise InvalidRequest(
                f"no transition of {key} can {wanted} it (reachable statuses: {names}); set the "
                f"installation's {'resolve' if resolved else 'reopen'}_status to one of them"
            )
        return await self._transition(key, chosen, current)

    async def _transition(self, key: str, chosen: dict[str, Any], current: TicketRecord) -> TicketRecord:
        await self.api.call(
            "ticket.transition",
            "POST",
            "/issue/{key}/transitions",
            path={"key": key},
            json={"transition": {"id": str(chosen["id"])}},
        )
        target = chosen.get("to") or {}
        category = (target.get("statusCategory") or {}).get("key")
        if not target.get("name") or category not in CATEGORIES:
            return await self.get_ticket(key)  # a transition that does not say where it leads
        return replace(
            current,
            status=str(target["name"]),
            status_category=CATEGORIES[category],
            etag=None,
            not_modified=False,
        )

    async def statuses(self, scopes: Sequence[str]) -> list[str]:
        """Every status of the projects' workflows (over all issue types)."""
        names: dict[str, None] = {}
        for scope in dict.fromkeys(check_project(s) for s in scopes):
            reply = await self.api.call(
                "project.statuses", "GET", "/project/{key}/statuses", path={"key": scope}
            )
            for issue_type in reply.data or []:
                for status in (issue_type or {}).get("statuses") or []:
                    names[str(status.get("name"))] = None
        return list(names)

    async def find_user(self, email: str) -> str | None:
        reply = await self.api.call("user.search", "GET", "/user/search", params={"query": email})
        for user in reply.data or []:
            if isinstance(user, dict) and user.get("accountId"):
                shown = user.get("emailAddress")
                # A hidden email still matches an exact search; a shown one must be the same address.
                if shown is None or str(shown).casefold() == email.casefold():
                    return str(user["accountId"])
        return None

    async def assign(self, key: str, account: str | None) -> TicketRecord:
        key = check_key(key)
        await self.api.call(
            "ticket.assign", "PUT", "/issue/{key}/assignee", path={"key": key}, json={"accountId": account}
        )
        return await self.get_ticket(key)

    async def comment(self, key: str, body: str) -> CommentRecord:
        key = check_key(key)
        document = adf.doc(*(adf.paragraphs(body) or [adf.paragraph()]))
        reply = await self.api.call(
            "ticket.comment", "POST", "/issue/{key}/comment", path={"key": key}, json={"body": document}
        )
        data = reply.data or {}
        comment_id = str(data.get("id"))
        return CommentRecord(id=comment_id, url=f"{self.site}/browse/{key}?focusedCommentId={comment_id}")

    # -- webhooks in ---------------------------------------------------------------------------------
    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        context: WebhookContext | None = None,
    ) -> None:
        """OAuth-app webhooks carry a JWT signed with the client secret; admin webhooks an HMAC."""
        authorization = header(headers, "Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            self._verify_jwt(token.strip(), context)
            return
        given = header(headers, "X-Hub-Signature")
        if given:
            if not secret:
                raise WebhookRejected("the delivery has X-Hub-Signature but no webhook secret is configured")
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if not same_signature(expected, given):
                raise WebhookRejected("the X-Hub-Signature signature does not match the body")
            return
        raise WebhookRejected("the delivery is not signed (no Authorization JWT, no X-Hub-Signature)")

    def _verify_jwt(self, token: str, context: WebhookContext | None) -> None:
        """Check the JWT of a dynamic webhook's delivery, claim by claim.

        Atlassian documents that deliveries of webhooks an OAuth 2.0 app registered carry
        `Authorization: Bearer <JWT>` signed (HS256) with the app's client secret, and defines no query
        or body hash for them: the token names the sender, never the bytes. So the signature proves
        only that somebody holding the client secret signed it; every other claim binds it to this
        installation: `iss` the site, `aud` this app, `context.cloudId` the site (on the cloud),
        `context.webhookId` a webhook Conduit registered here, `iat`/`exp` a short window around now.
        A token reused with another body is refused by the receiver, which remembers tokens it took.
        """
        if self.client is None:
            raise WebhookRejected("no Jira client secret is configured to check the delivery's JWT")
        if context is None:
            raise WebhookRejected("a JWT-signed delivery can only be checked against its installation")
        with warnings.catch_warnings():
            # joserfc warns about short HMAC keys; the key is whatever secret Atlassian issued.
            warnings.simplefilter("ignore")
            key = OctKey.import_key(self.client.client_secret.encode())
            try:
                decoded = jwt.decode(token, key, algorithms=["HS256"])
            except (JoseError, ValueError, TypeError) as exc:
                raise WebhookRejected(f"the delivery's JWT is not valid: {exc}") from None
        claims = decoded.claims
        _check_fresh(claims, time.time())
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client.client_id not in audiences:
            raise WebhookRejected("the delivery's JWT is meant for another app (aud)")
        site = (context.site_url or "").rstrip("/")
        issuer = claims.get("iss")
        if not site or not isinstance(issuer, str) or issuer.rstrip("/") != site:
            raise WebhookRejected("the delivery's JWT was issued by another site (iss)")
        about = claims.get("context")
        if not isinstance(about, dict):
            raise WebhookRejected("the delivery's JWT names no site and webhook (context)")
        cloud_id = about.get("cloudId")
        if not isinstance(cloud_id, str) or not cloud_id:
            raise WebhookRejected("the delivery's JWT names no site (context.cloudId)")
        # On the cloud the site is its cloud id; a self-hosted server is its base URL, checked as `iss`.
        if context.cloud and cloud_id != context.account_id:
            raise WebhookRejected("the delivery's JWT is for another site (context.cloudId)")
        webhook_id = about.get("webhookId")
        if isinstance(webhook_id, bool) or not isinstance(webhook_id, int | str):
            raise WebhookRejected("the delivery's JWT names no webhook (context.webhookId)")
        if str(webhook_id) not in context.webhook_ids:
            raise WebhookRejected("the delivery's JWT is for a webhook Conduit did not register here")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookChange:
        document = load_webhook_json(body)
        if not isinstance(document, dict) or not isinstance(document.get("webhookEvent"), str):
            raise WebhookRejected("the delivery has no webhookEvent")
        try:
            return self._change(header(headers, "X-Atlassian-Webhook-Identifier"), document)
        except (AttributeError, TypeError, ValueError, OverflowError, RecursionError) as exc:
            # A signed body is still untrusted input: any shape Jira never sends is malformed.
            raise WebhookRejected(f"the delivery is malformed: {str(exc)[:200]}") from None

    def _change(self, delivery: str | None, document: dict[str, Any]) -> WebhookChange:
        event = document["webhookEvent"]
        user = document.get("user") or {}
        actor = user.get("accountId") if isinstance(user, dict) else None
        timestamp = document.get("timestamp")
        occurred = datetime.fromtimestamp(timestamp / 1000, UTC) if isinstance(timestamp, int) else None
        issue = document.get("issue")
        if not isinstance(issue, dict):
            return WebhookChange(delivery, ChangeKind.IGNORED, None, None, occurred, actor, event=event)
        try:
            record = self.ticket(issue)
        except InvalidRequest as exc:
            raise WebhookRejected(f"the issue in the delivery is malformed: {exc}") from None
        self._remember(record, issue)
        # The issue's own `updated` orders changes to it; the delivery timestamp is the fallback.
        occurred = record.updated_at or occurred
        kind, status_from, status_to, comment = ChangeKind.IGNORED, None, None, None
        comment_id: str | None = None
        changelog = document.get("changelog") or {}
        if not isinstance(changelog, dict):
            raise WebhookRejected("the delivery's changelog is not an object")
        items = changelog.get("items") or []
        if not isinstance(items, list):
            raise WebhookRejected("the delivery's changelog items are not a list")
        status_item = next((i for i in items if isinstance(i, dict) and i.get("field") == "status"), None)
        if event == "jira:issue_created":
            kind = ChangeKind.CREATED
        elif event == "jira:issue_deleted":
            kind, record = ChangeKind.DELETED, replace(record, deleted=True)
        elif event == "comment_created":
            kind = ChangeKind.COMMENTED
            raw = document.get("comment")
            if not isinstance(raw, dict):
                raise WebhookRejected("the delivery's comment is not an object")
            comment = adf.to_text(raw.get("body"))
            comment_id = str(raw["id"]) if raw.get("id") is not None else None
            author = raw.get("author")
            if isinstance(author, dict) and author.get("accountId"):
                actor = author["accountId"]
        elif status_item is not None:
            status_from, status_to = status_item.get("fromString"), status_item.get("toString")
            was = self.config.is_resolved(str(status_from or ""), _category_before(items, record))
            now = self.config.is_resolved(record.status, record.status_category)
            kind = (
                ChangeKind.CLOSED
                if now and not was
                else ChangeKind.REOPENED
                if was and not now
                else ChangeKind.STATUS_CHANGED
            )
        elif any(isinstance(i, dict) and i.get("field") == "assignee" for i in items):
            kind = ChangeKind.ASSIGNED if record.assignee_email or record.assignee else ChangeKind.UNASSIGNED
        elif items:
            kind = ChangeKind.EDITED
        return WebhookChange(
            delivery_id=delivery,
            kind=kind,
            key=record.key,
            ticket=record,
            occurred_at=occurred,
            actor=actor,
            event=event,
            comment=comment,
            comment_id=comment_id,
            status_from=status_from,
            status_to=status_to,
        )


def _check_fresh(claims: Mapping[str, Any], now: float) -> None:
    """`iat` and `exp` present and around now: a captured token is good for minutes, not forever."""
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise WebhookRejected("the delivery's JWT has no iat and exp")
    # JSON as Python reads it allows NaN and Infinity, which every comparison below would let through.
    if not (math.isfinite(issued) and math.isfinite(expires)):
        raise WebhookRejected("the delivery's JWT has no usable iat and exp")
    if expires + JWT_LEEWAY < now:
        raise WebhookRejected("the delivery's JWT has expired (exp)")
    if issued - JWT_LEEWAY > now:
        raise WebhookRejected("the delivery's JWT is issued in the future (iat)")
    if issued + JWT_MAX_AGE < now:
        raise WebhookRejected("the delivery's JWT is stale (iat)")
    if expires - issued > JWT_MAX_AGE:
        raise WebhookRejected("the delivery's JWT lives longer than any delivery needs (exp - iat)")


def _category_before(items: list[Any], now: TicketRecord) -> StatusCategory:
    """The changelog names the old status but not its category. Jira sets or clears `resolution`
    exactly when an issue moves into or out of done, so that item says which side it came from."""
    crossed = any(isinstance(i, dict) and i.get("field") == "resolution" for i in items)
    done_now = now.status_category is StatusCategory.DONE
    return StatusCategory.DONE if done_now != crossed else StatusCategory.OPEN


def _pick_transition(
    options: list[dict[str, Any]], resolved: bool, config: SyncConfig
) -> dict[str, Any] | None:
    def target(t: dict[str, Any]) -> tuple[str, StatusCategory]:
        to = t.get("to") or {}
        category = CATEGORIES.get((to.get("statusCategory") or {}).get("key", ""), StatusCategory.OPEN)
        return str(to.get("name") or ""), category

    wanted_name = config.resolve_status if resolved else config.reopen_status
    if wanted_name:
        return next((t for t in options if target(t)[0].casefold() == wanted_name.casefold()), None)
    if resolved:
        return next((t for t in options if config.is_resolved(*target(t))), None)
    # Reopen to the first to-do status, else anything that does not count as resolved.
    reopen = [t for t in options if not config.is_resolved(*target(t))]
    return next((t for t in reopen if target(t)[1] is StatusCategory.OPEN), reopen[0] if reopen else None)


__all__ = ["JiraConnector"]
