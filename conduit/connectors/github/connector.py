"""GitHub: REST v3 issues, `state` open/closed, HMAC-SHA256 signed webhooks."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from conduit.connectors.base import (
    Connector,
    TicketDraft,
    WebhookContext,
    deleted_ticket,
    header,
    load_webhook_json,
    same_signature,
)
from conduit.connectors.config import SyncConfig
from conduit.connectors.errors import InvalidRequest, NotFound
from conduit.connectors.github.catalog import GITHUB
from conduit.connectors.http import next_page
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

KEY = re.compile(r"^(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)#(?P<number>[0-9]+)$")
REPO = re.compile(r"^(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)$")
ISSUE = "/repos/{owner}/{repo}/issues/{number}"
# A listing of changes pages through at most this many pages of 100 before falling back to reads.
MAX_PAGES = 10
ACTIONS = {
    "opened": ChangeKind.CREATED,
    "closed": ChangeKind.CLOSED,
    "reopened": ChangeKind.REOPENED,
    "edited": ChangeKind.EDITED,
    "assigned": ChangeKind.ASSIGNED,
    "unassigned": ChangeKind.UNASSIGNED,
    "deleted": ChangeKind.DELETED,
}


def parse_key(key: str) -> dict[str, str]:
    match = KEY.match(key.strip())
    if match is None:
        raise InvalidRequest(f"{key!r} is not a GitHub issue key; expected owner/repo#number")
    return match.groupdict()


def parse_repo(scope: str) -> dict[str, str]:
    match = REPO.match(scope.strip())
    if match is None:
        raise InvalidRequest(f"{scope!r} is not a GitHub repository; expected owner/name")
    return match.groupdict()


def ticket(data: dict[str, Any], etag: str | None = None) -> TicketRecord:
    if not isinstance(data, dict) or "number" not in data:
        raise InvalidRequest("GitHub answered with something that is not an issue")
    repo_path = str(data.get("repository_url", "")).rstrip("/").split("/")
    full_name = "/".join(repo_path[-2:])
    closed = data.get("state") == "closed"
    assignee = data.get("assignee") or {}
    return TicketRecord(
        key=f"{full_name}#{data['number']}",
        url=str(data.get("html_url", "")),
        title=str(data.get("title", "")),
        status=str(data.get("state", "open")),
        status_category=StatusCategory.DONE if closed else StatusCategory.OPEN,
        # GitHub shows emails only on the user's own profile, and only if public.
        assignee_email=assignee.get("email") if isinstance(assignee, dict) else None,
        updated_at=parse_time(data.get("updated_at")),
        etag=etag,
        assignee=assignee.get("login") if isinstance(assignee, dict) else None,
        assignee_id=assignee.get("login") if isinstance(assignee, dict) else None,
        # The issue's database id: a transferred issue keeps it, while its key names the new repository.
        tracker_id=str(data["id"]) if data.get("id") is not None else None,
    )


class GitHubConnector(Connector):
    provider = GITHUB

    @classmethod
    def scope_of(cls, key: str) -> str:
        return key.split("#", 1)[0]

    async def discover_account(self) -> AccountRecord:
        reply = await self.api.call("account.discover", "GET", "/user")
        data = reply.data or {}
        return AccountRecord(
            id=str(data.get("id", "")), name=str(data.get("login", "")), url=data.get("html_url")
        )

    async def register_webhook(self, scope: str, url: str, secret: str) -> WebhookRegistration:
        body = {
            "name": "web",
            "active": True,
            "events": ["issues", "issue_comment"],
            "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
        }
        reply = await self.api.call(
            "webhook.register", "POST", "/repos/{owner}/{repo}/hooks", path=parse_repo(scope), json=body
        )
        return WebhookRegistration(id=str((reply.data or {}).get("id")), secret=secret)

    async def create_ticket(self, scope: str, draft: TicketDraft) -> TicketRecord:
        body: dict[str, Any] = {"title": draft.title[:256], "body": markdown(draft)}
        if draft.labels:
            # By name; GitHub makes a label the repository does not have yet.
            body["labels"] = list(draft.labels)
        reply = await self.api.call(
            "ticket.create", "POST", "/repos/{owner}/{repo}/issues", path=parse_repo(scope), json=body
        )
        return ticket(reply.data, reply.etag)

    async def get_ticket(self, key: str, known: TicketRecord | None = None) -> TicketRecord:
        etag = known.etag if known is not None and not known.deleted else None
        reply = await self.api.call("ticket.get", "GET", ISSUE, path=parse_key(key), etag=etag)
        if reply.not_modified and known is not None:
            return known.confirmed()
        if reply.status in (301, 307, 308) and reply.headers.get("location"):
            # Transferred to another repository: read it where it lives now (on this API's server
            # only; `Api.call` refuses another origin). Its key follows.
            reply = await self.api.call("ticket.get", "GET", "", url=reply.headers["location"])
        return ticket(reply.data, reply.etag)

    def deleted(self, key: str, known: TicketRecord | None) -> TicketRecord:
        if known is None:
            parse_key(key)
        return deleted_ticket(key, known)

    async def changed_since(self, scope: str, since: datetime) -> list[TicketRecord] | None:
        """One listing per 100 changed issues of a repository (deleted ones are not listed)."""
        params = {
            "state": "all",
            "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sort": "updated",
            "direction": "asc",
            "per_page": 100,
        }
        found: list[TicketRecord] = []
        url: str | None = None
        for _ in range(MAX_PAGES):
            reply = await self.api.call(
                "ticket.list_changed",
                "GET",
                "/repos/{owner}/{repo}/issues",
                path=parse_repo(scope),
                params=params if url is None else None,
                url=url,
            )
            found += [ticket(item) for item in reply.data or [] if "pull_request" not in item]
            url = next_page(reply)
            if url is None:
                return found
        return None

    async def search(self, scope: str, text: str, limit: int = 20) -> list[TicketRecord]:
        repo = parse_repo(scope)
        query = f"repo:{repo['owner']}/{repo['repo']} is:issue {text}".strip()
        reply = await self.api.call(
            "ticket.search", "GET", "/search/issues", params={"q": query, "per_page": min(limit, 100)}
        )
        items = (reply.data or {}).get("items") or []
        return [ticket(item) for item in items if "pull_request" not in item][:limit]

    async def set_status(
        self,
        key: str,
        resolved: bool,
        config: SyncConfig | None = None,
        known: TicketRecord | None = None,
    ) -> TicketRecord:
        body = {"state": "closed", "state_reason": "completed"} if resolved else {"state": "open"}
        reply = await self.api.call("ticket.set_status", "PATCH", ISSUE, path=parse_key(key), json=body)
        return ticket(reply.data)

    async def statuses(self, scopes: Sequence[str]) -> list[str]:
        return ["open", "closed"]

    async def find_user(self, email: str) -> str | None:
        """Only users who make their email public are found; exactly one hit is a match."""
        reply = await self.api.call(
            "user.search", "GET", "/search/users", params={"q": f"{email} in:email", "per_page": 2}
        )
        items = [i for i in (reply.data or {}).get("items") or [] if isinstance(i, dict)]
        return str(items[0]["login"]) if len(items) == 1 and items[0].get("login") else None

    async def assign(self, key: str, account: str | None) -> TicketRecord:
        assignees = [account] if account else []
        reply = await self.api.call(
            "ticket.assign", "PATCH", ISSUE, path=parse_key(key), json={"assignees": assignees}
        )
        return ticket(reply.data)

    async def comment(self, key: str, body: str) -> CommentRecord:
        reply = await self.api.call(
            "ticket.comment", "POST", ISSUE + "/comments", path=parse_key(key), json={"body": body}
        )
        data = reply.data or {}
        return CommentRecord(id=str(data.get("id")), url=data.get("html_url"))

    async def unregister_webhook(self, scope: str, webhook_id: str) -> None:
        path = {**parse_repo(scope), "hook_id": webhook_id}
        with contextlib.suppress(NotFound):
            await self.api.call(
                "webhook.unregister", "DELETE", "/repos/{owner}/{repo}/hooks/{hook_id}", path=path
            )

    async def revoke(self, access_token: str) -> bool:
        """`DELETE /applications/{client_id}/token`, authenticated as the OAuth app itself."""
        if self.client is None:
            return False
        template = "/applications/{client_id}/token"
        url = self.api.endpoints.api + template.format(client_id=quote(self.client.client_id, safe=""))
        basic = base64.b64encode(f"{self.client.client_id}:{self.client.client_secret}".encode()).decode()
        # A 404: the token was already revoked, or never valid.
        with contextlib.suppress(NotFound):
            await self.api.http.request(
                self.api.target,
                "token.revoke",
                "DELETE",
                url,
                template=template,
                limits=self.provider.rate_limit,
                headers={**self.provider.api_headers, "Authorization": f"Basic {basic}"},
                json={"access_token": access_token},
            )
        return True

    # -- webhooks in ---------------------------------------------------------------------------------
    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        context: WebhookContext | None = None,
    ) -> None:
        """The HMAC covers the body and nothing else; the installation is the one whose secret matches."""
        if not secret:
            raise WebhookRejected("no webhook secret is configured for this installation")
        given = header(headers, "X-Hub-Signature-256")
        if not given:
            raise WebhookRejected("the delivery is not signed (no X-Hub-Signature-256)")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not same_signature(expected, given):
            raise WebhookRejected("the X-Hub-Signature-256 signature does not match the body")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookChange:
        event = header(headers, "X-GitHub-Event")
        if not event:
            raise WebhookRejected("no X-GitHub-Event header")
        document = _document(headers, body)
        try:
            return _change(event, header(headers, "X-GitHub-Delivery"), document)
        except (AttributeError, TypeError, ValueError, OverflowError, RecursionError) as exc:
            # A signed body is still untrusted input: any shape GitHub never sends is malformed.
            raise WebhookRejected(f"the delivery is malformed: {str(exc)[:200]}") from None


def _change(event: str, delivery: str | None, document: dict[str, Any]) -> WebhookChange:
    action = str(document.get("action") or "")
    sender = document.get("sender") or {}
    actor = sender.get("login") if isinstance(sender, dict) else None
    issue = document.get("issue")
    if event not in ("issues", "issue_comment") or not isinstance(issue, dict):
        return WebhookChange(delivery, ChangeKind.IGNORED, None, None, None, actor, event=event)
    if "pull_request" in issue:
        return WebhookChange(delivery, ChangeKind.IGNORED, None, None, None, actor, event=event)
    try:
        record = ticket(issue)
    except InvalidRequest as exc:
        raise WebhookRejected(f"the issue in the delivery is malformed: {exc}") from None
    comment: str | None = None
    comment_id: str | None = None
    changes = document.get("changes")
    if event == "issues" and action == "transferred" and isinstance(changes, dict):
        # Sent to the old repository: the change is about the old key, the ticket is the new issue.
        new_issue = changes.get("new_issue")
        try:
            moved = ticket(new_issue) if isinstance(new_issue, dict) else None
        except InvalidRequest as exc:
            raise WebhookRejected(f"the transferred issue in the delivery is malformed: {exc}") from None
        if moved is not None:
            return WebhookChange(
                delivery,
                ChangeKind.EDITED,
                record.key,
                moved,
                moved.updated_at,
                actor,
                event="issues.transferred",
            )
    if event == "issue_comment":
        kind = ChangeKind.COMMENTED if action == "created" else ChangeKind.IGNORED
        raw = document.get("comment")
        if isinstance(raw, dict):
            comment = str(raw.get("body", ""))
            comment_id = str(raw["id"]) if raw.get("id") is not None else None
            user = raw.get("user")
            # The comment's author; the sender is the same person for a comment GitHub relays.
            actor = user.get("login", actor) if isinstance(user, dict) else actor
    else:
        kind = ACTIONS.get(action, ChangeKind.IGNORED)
    if kind is ChangeKind.DELETED:
        record = replace(record, deleted=True)
    return WebhookChange(
        delivery_id=delivery,
        kind=kind,
        key=record.key,
        ticket=record,
        occurred_at=record.updated_at,
        actor=actor,
        event=f"{event}.{action}" if action else event,
        comment=comment,
        comment_id=comment_id,
    )


def _document(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    content_type = header(headers, "Content-Type") or "application/json"
    if "x-www-form-urlencoded" in content_type:
        try:
            payload = parse_qs(body.decode(), strict_parsing=True).get("payload", [""])[0]
        except UnicodeDecodeError:
            raise WebhookRejected("the delivery body is not UTF-8 text") from None
        except ValueError as exc:
            raise WebhookRejected(f"the delivery body is not a form: {str(exc)[:200]}") from None
        document = load_webhook_json(payload)
    else:
        document = load_webhook_json(body)
    if not isinstance(document, dict):
        raise WebhookRejected("the delivery body is not a JSON object")
    return document
