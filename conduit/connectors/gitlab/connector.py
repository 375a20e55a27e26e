"""GitLab: REST v4 issues, `state` opened/closed, webhooks that carry the shared secret itself.

A project is addressed by its full path, URL-encoded as one path segment (`acme%2Fwidgets`); an issue
by its project and its `iid`. The issue's global `id` is its stable id (`TicketRecord.tracker_id`):
it stays when the project is renamed or transferred and the key changes. Moving an issue to another
project makes a new issue and closes the old one with `moved_to_id`; reads follow that pointer, so a
linked ticket's key becomes the new one.

Conduit's own changes are made with the installing person's token, so GitLab attributes them (and
their webhooks) to that person: an echo is recognised by the change itself — its `updated_at` equals
the watermark Conduit stored when it made the change and nothing else differs — not by who made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from conduit.connectors.base import (
    BATCH_CONCURRENCY,
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
from conduit.connectors.gitlab.catalog import GITLAB
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

# A path segment: letters, digits, `_`, `-` and `.`, never starting with `-` or `.` (so never `..`).
SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
PROJECT = re.compile(rf"^(?P<project>{SEGMENT}(?:/{SEGMENT})+)$")
KEY = re.compile(rf"^(?P<project>{SEGMENT}(?:/{SEGMENT})+)#(?P<iid>[0-9]+)$")
ISSUE = "/projects/{project}/issues/{iid}"
# A listing of changes pages through at most this many pages of 100 before falling back to reads.
MAX_PAGES = 10
# `iids[]` per listing call when reading many tickets of one project.
BATCH = 100
# A moved issue can be moved again; following stops after this many hops.
MAX_MOVES = 5
EVENTS = {"Issue Hook", "Confidential Issue Hook", "Note Hook", "Confidential Note Hook"}
ACTIONS = {"open": ChangeKind.CREATED, "close": ChangeKind.CLOSED, "reopen": ChangeKind.REOPENED}
MOVED_TO = "query($id: IssueID!) { issue(id: $id) { iid reference(full: true) webUrl } }"


def parse_key(key: str) -> dict[str, str]:
    match = KEY.match(key.strip())
    if match is None:
        raise InvalidRequest(f"{key!r} is not a GitLab issue key; expected group/project#iid")
    return match.groupdict()


def parse_project(scope: str) -> dict[str, str]:
    match = PROJECT.match(scope.strip().strip("/"))
    if match is None:
        raise InvalidRequest(f"{scope!r} is not a GitLab project; expected its full path, group/project")
    return match.groupdict()


def _project_path(data: dict[str, Any]) -> str:
    """The project's full path, from `references.full` (`group/project#iid`), else from `web_url`."""
    references = data.get("references")
    if isinstance(references, dict) and isinstance(references.get("full"), str):
        project, sep, _ = references["full"].rpartition("#")
        if sep and project:
            return project
    path = httpx.URL(str(data.get("web_url") or "")).path
    project, sep, _ = path.partition("/-/issues/")
    if not sep:
        raise InvalidRequest("GitLab answered with an issue that names no project")
    return project.strip("/")


def _seconds(value: datetime | None) -> datetime | None:
    """REST shows milliseconds, webhooks whole seconds: compared at the coarser one, a webhook about a
    later change in the same second is never taken for an older one."""
    return value.replace(microsecond=0) if value is not None else None


def _person(user: Any) -> tuple[str | None, str | None, str | None]:
    """(username, id, email) of a user object; the email only where GitLab shows it."""
    if not isinstance(user, dict) or user.get("id") is None:
        return None, None, None
    email = user.get("public_email") or user.get("email")
    return user.get("username"), str(user["id"]), email if isinstance(email, str) and email else None


def ticket(data: Any, etag: str | None = None) -> TicketRecord:
    """A REST issue (or a webhook's `object_attributes` with its `assignees` folded in)."""
    if not isinstance(data, dict) or not isinstance(data.get("iid"), int):
        raise InvalidRequest("GitLab answered with something that is not an issue")
    closed = data.get("state") == "closed"
    assignees = data.get("assignees") or []
    if not isinstance(assignees, list):
        raise InvalidRequest("the issue's assignees are not a list")
    username, user_id, email = _person(assignees[0] if assignees else None)
    return TicketRecord(
        key=f"{_project_path(data)}#{data['iid']}",
        url=str(data.get("web_url") or data.get("url") or ""),
        title=str(data.get("title") or ""),
        status=str(data.get("state") or "opened"),
        status_category=StatusCategory.DONE if closed else StatusCategory.OPEN,
        # GitLab shows a user's email only when they made it public (or to an administrator).
        assignee_email=email,
        updated_at=_seconds(parse_time(data.get("updated_at"))),
        etag=etag,
        assignee=username,
        assignee_id=user_id,
        tracker_id=str(data["id"]) if data.get("id") is not None else None,
    )


class GitLabConnector(Connector):
    provider = GITLAB

    @classmethod
    def scope_of(cls, key: str) -> str:
        return key.rsplit("#", 1)[0]

    # -- installing ----------------------------------------------------------------------------------
    async def discover_account(self) -> AccountRecord:
        reply = await self.api.call("account.discover", "GET", "/user")
        data = reply.data or {}
        return AccountRecord(
            id=str(data.get("id", "")), name=str(data.get("username", "")), url=data.get("web_url")
        )

    async def register_webhook(self, scope: str, url: str, secret: str) -> WebhookRegistration:
        """A project hook for issue and note events; GitLab sends `secret` back as `X-Gitlab-Token`."""
        body = {
            "url": url,
            "token": secret,
            "issues_events": True,
            "confidential_issues_events": True,
            "note_events": True,
            "confidential_note_events": True,
            "push_events": False,
            "enable_ssl_verification": True,
        }
        reply = await self.api.call(
            "webhook.register", "POST", "/projects/{project}/hooks", path=parse_project(scope), json=body
        )
        return WebhookRegistration(id=str((reply.data or {}).get("id")), secret=secret)

    async def unregister_webhook(self, scope: str, webhook_id: str) -> None:
        path = {**parse_project(scope), "hook_id": webhook_id}
        with contextlib.suppress(NotFound):
            await self.api.call(
                "webhook.unregister", "DELETE", "/projects/{project}/hooks/{hook_id}", path=path
            )

    async def revoke(self, access_token: str) -> bool:
        """`POST /oauth/revoke` (RFC 7009) with the installation's own client; it answers 200 even for
        a token already gone."""
        if self.client is None:
            return False
        url = self.api.endpoints.token.rsplit("/", 1)[0] + "/revoke"
        await self.api.http.request(
            self.api.target,
            "token.revoke",
            "POST",
            url,
            template=httpx.URL(url).path,
            limits=self.provider.rate_limit,
            headers={"Accept": "application/json"},
            form={
                "client_id": self.client.client_id,
                "client_secret": self.client.client_secret,
                "token": access_token,
            },
        )
        return True

    # -- tickets -------------------------------------------------------------------------------------
    async def create_ticket(self, scope: str, draft: TicketDraft) -> TicketRecord:
        body = {"title": draft.title.replace("\n", " ")[:255], "description": markdown(draft)}
        if draft.labels:
            # One comma-separated string of names (a comma cannot be in one); GitLab makes new ones.
            body["labels"] = ",".join(n.replace(",", " ") for n in draft.labels)
        reply = await self.api.call(
            "ticket.create", "POST", "/projects/{project}/issues", path=parse_project(scope), json=body
        )
        return ticket(reply.data, reply.etag)

    async def get_ticket(self, key: str, known: TicketRecord | None = None) -> TicketRecord:
        etag = known.etag if known is not None and not known.deleted else None
        reply = await self.api.call("ticket.get", "GET", ISSUE, path=parse_key(key), etag=etag)
        if reply.not_modified and known is not None:
            return known.confirmed()
        return await self._followed(reply.data, ticket(reply.data, reply.etag))

    async def _followed(self, data: Any, record: TicketRecord) -> TicketRecord:
        """The issue a moved one became (`moved_to_id`), found by its global id over GraphQL: REST
        reads an issue by global id for administrators only. Unchanged when the target is not
        visible to the installation."""
        for _ in range(MAX_MOVES):
            moved_to = data.get("moved_to_id") if isinstance(data, dict) else None
            if not isinstance(moved_to, int) or isinstance(moved_to, bool):
                return record
            graphql = self.api.endpoints.api.rsplit("/", 1)[0] + "/graphql"
            reply = await self.api.call(
                "ticket.moved_to",
                "POST",
                "/graphql",
                url=graphql,
                json={"query": MOVED_TO, "variables": {"id": f"gid://gitlab/Issue/{moved_to}"}},
            )
            found = ((reply.data or {}).get("data") or {}).get("issue")
            reference = found.get("reference") if isinstance(found, dict) else None
            if not isinstance(reference, str) or KEY.match(reference) is None:
                return record
            moved = await self.api.call("ticket.get", "GET", ISSUE, path=parse_key(reference))
            data, record = moved.data, ticket(moved.data, moved.etag)
        return record

    async def webhook_ticket(self, record: TicketRecord, known: TicketRecord | None = None) -> TicketRecord:
        """A Note Hook names the issue's assignees by id only: such a ticket is read again, so the
        assignee applied with the comment has its handle and is not taken for a change."""
        if record.assignee_id is None or record.assignee is not None:
            return record
        try:
            return await self.get_ticket(record.key)
        except NotFound:
            return self.deleted(record.key, record)

    async def get_tickets(
        self, keys: Sequence[str], known: Mapping[str, TicketRecord] | None = None
    ) -> dict[str, TicketRecord]:
        """One listing per project and 100 iids (`iids[]`); a key the listing leaves out is read on
        its own (404: deleted), and so is one whose issue moved. Answers under the keys asked for."""
        known = known or {}
        wanted = list(dict.fromkeys(keys))
        by_project: dict[str, list[str]] = {}
        for key in wanted:
            parsed = parse_key(key)
            by_project.setdefault(parsed["project"], []).append(parsed["iid"])
        found: dict[str, TicketRecord] = {}
        for project, iids in by_project.items():
            for start in range(0, len(iids), BATCH):
                chunk = iids[start : start + BATCH]
                reply = await self.api.call(
                    "ticket.get_many",
                    "GET",
                    "/projects/{project}/issues",
                    path={"project": project},
                    params={"iids[]": chunk, "per_page": BATCH, "scope": "all"},
                )
                for item in reply.data or []:
                    if isinstance(item, dict) and item.get("moved_to_id") is None:
                        record = ticket(item)
                        found[f"{project}#{item['iid']}"] = record
        limit = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(key: str) -> tuple[str, TicketRecord]:
            async with limit:
                try:
                    return key, await self.get_ticket(key, known.get(key))
                except NotFound:
                    return key, self.deleted(key, known.get(key))

        missing = [k for k in wanted if k not in found]
        found |= dict(await asyncio.gather(*(one(k) for k in missing)))
        return found

    def deleted(self, key: str, known: TicketRecord | None) -> TicketRecord:
        if known is None:
            parse_key(key)
        return deleted_ticket(key, known)

    async def changed_since(self, scope: str, since: datetime) -> list[TicketRecord] | None:
        """One listing per 100 changed issues of a project (deleted ones are not listed)."""
        params: dict[str, Any] = {
            "updated_after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "order_by": "updated_at",
            "sort": "asc",
            "scope": "all",
            "per_page": 100,
        }
        found: list[TicketRecord] = []
        url: str | None = None
        for _ in range(MAX_PAGES):
            reply = await self.api.call(
                "ticket.list_changed",
                "GET",
                "/projects/{project}/issues",
                path=parse_project(scope),
                params=params if url is None else None,
                url=url,
            )
            items = [item for item in reply.data or [] if isinstance(item, dict)]
            if any(item.get("moved_to_id") is not None for item in items):
                # A moved issue is listed closed under its old key; read the scope's tickets one by
                # one instead, which follows it to where it is now.
                return None
            found += [ticket(item) for item in items]
            url = next_page(reply)
            if url is None:
                return found
        return None

    async def search(self, scope: str, text: str, limit: int = 20) -> list[TicketRecord]:
        params: dict[str, Any] = {"order_by": "updated_at", "scope": "all", "per_page": min(limit, 100)}
        if text.strip():
            params["search"] = text.strip()
        reply = await self.api.call(
            "ticket.search", "GET", "/projects/{project}/issues", path=parse_project(scope), params=params
        )
        return [ticket(item) for item in reply.data or []][:limit]

    async def set_status(
        self,
        key: str,
        resolved: bool,
        config: SyncConfig | None = None,
        known: TicketRecord | None = None,
    ) -> TicketRecord:
        body = {"state_event": "close" if resolved else "reopen"}
        reply = await self.api.call("ticket.set_status", "PUT", ISSUE, path=parse_key(key), json=body)
        return ticket(reply.data)

    async def statuses(self, scopes: Sequence[str]) -> list[str]:
        return ["opened", "closed"]

    async def find_user(self, email: str) -> str | None:
        """GitLab searches emails only among public ones (all, for an administrator's token); exactly
        one hit is a match."""
        reply = await self.api.call("user.search", "GET", "/users", params={"search": email, "per_page": 2})
        users = [u for u in reply.data or [] if isinstance(u, dict) and u.get("id") is not None]
        return str(users[0]["id"]) if len(users) == 1 else None

    async def assign(self, key: str, account: str | None) -> TicketRecord:
        if account is not None and not account.isdigit():
            raise InvalidRequest(f"{account!r} is not a GitLab user id")
        body = {"assignee_ids": [int(account)] if account else []}
        reply = await self.api.call("ticket.assign", "PUT", ISSUE, path=parse_key(key), json=body)
        return ticket(reply.data)

    async def comment(self, key: str, body: str) -> CommentRecord:
        parsed = parse_key(key)
        reply = await self.api.call(
            "ticket.comment", "POST", ISSUE + "/notes", path=parsed, json={"body": body}
        )
        data = reply.data or {}
        note_id = str(data.get("id"))
        base = self.api.site_url or str(httpx.URL(self.api.endpoints.api).copy_with(path="/")).rstrip("/")
        url = f"{base}/{parsed['project']}/-/issues/{parsed['iid']}#note_{note_id}"
        return CommentRecord(id=note_id, url=url)

    # -- webhooks in ---------------------------------------------------------------------------------
    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        context: WebhookContext | None = None,
    ) -> None:
        """GitLab sends the hook's secret token itself in `X-Gitlab-Token`, no signature: whoever
        holds the secret can send any body, and a body changed in transit cannot be told apart. The
        secret is the installation's own, so a match binds the delivery to it; `X-Gitlab-Instance`
        (sent by GitLab 15.5 and later) must then name the installation's server."""
        if not secret:
            raise WebhookRejected("no webhook secret is configured for this installation")
        given = header(headers, "X-Gitlab-Token")
        if not given:
            raise WebhookRejected("the delivery carries no X-Gitlab-Token")
        if not same_signature(secret, given):
            raise WebhookRejected("the X-Gitlab-Token is not this installation's webhook secret")
        instance = header(headers, "X-Gitlab-Instance")
        if instance and context is not None:
            site = "https://gitlab.com" if context.cloud else context.site_url
            if site and not _same_host(instance, site):
                raise WebhookRejected("the delivery comes from another GitLab server (X-Gitlab-Instance)")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookChange:
        event = header(headers, "X-Gitlab-Event")
        if not event:
            raise WebhookRejected("no X-Gitlab-Event header")
        document = load_webhook_json(body)
        if not isinstance(document, dict):
            raise WebhookRejected("the delivery body is not a JSON object")
        # Idempotency-Key stays the same over GitLab's retries of one delivery (17.4 and later).
        delivery = (
            header(headers, "Idempotency-Key")
            or header(headers, "X-Gitlab-Event-UUID")
            or header(headers, "X-Gitlab-Webhook-UUID")
        )
        try:
            return _change(event, delivery, document)
        except (AttributeError, TypeError, ValueError, LookupError, OverflowError, RecursionError) as exc:
            # A delivery with the right token is still untrusted input: any shape GitLab never sends
            # is malformed.
            raise WebhookRejected(f"the delivery is malformed: {str(exc)[:200]}") from None


def _same_host(given: str, site: str) -> bool:
    """`X-Gitlab-Instance` is the server's URL (`https://gitlab.example.com`); a bare host is taken too."""
    try:
        a = httpx.URL(given if "://" in given else f"https://{given}")
        b = httpx.URL(site)
    except httpx.InvalidURL:
        return False
    return a.host.lower() == b.host.lower() and (a.port is None or b.port is None or a.port == b.port)


def _change(event: str, delivery: str | None, document: dict[str, Any]) -> WebhookChange:
    user = document.get("user")
    actor = str(user["id"]) if isinstance(user, dict) and user.get("id") is not None else None
    kind_of = document.get("object_kind")
    if event not in EVENTS or kind_of not in ("issue", "note"):
        return WebhookChange(delivery, ChangeKind.IGNORED, None, None, None, actor, event=event)
    project = document.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("path_with_namespace"), str):
        raise WebhookRejected("the delivery names no project (project.path_with_namespace)")
    attributes = document.get("object_attributes")
    if not isinstance(attributes, dict):
        raise WebhookRejected("the delivery has no object_attributes")
    if kind_of == "note":
        return _note(event, delivery, document, project, attributes, actor)
    record = _hook_ticket(project, attributes, document.get("assignees"))
    action = str(attributes.get("action") or "")
    changes = document.get("changes") or {}
    if not isinstance(changes, dict):
        raise WebhookRejected("the delivery's changes are not an object")
    kind = ACTIONS.get(action, ChangeKind.IGNORED)
    status_from = status_to = None
    if kind is ChangeKind.CLOSED and attributes.get("moved_to_id") is not None:
        # Closed by a move: not resolved but elsewhere now; the next read follows it to its new key.
        kind = ChangeKind.IGNORED
    elif kind in (ChangeKind.CLOSED, ChangeKind.REOPENED):
        status_from, status_to = ("opened", "closed") if kind is ChangeKind.CLOSED else ("closed", "opened")
    elif action == "update":
        if "assignees" in changes:
            kind = ChangeKind.ASSIGNED if record.assignee_id else ChangeKind.UNASSIGNED
        elif "title" in changes or "description" in changes:
            kind = ChangeKind.EDITED
    return WebhookChange(
        delivery_id=delivery,
        kind=kind,
        key=record.key,
        ticket=record,
        occurred_at=record.updated_at,
        actor=actor,
        event=f"{event}.{action}" if action else event,
        status_from=status_from,
        status_to=status_to,
    )


def _note(
    event: str,
    delivery: str | None,
    document: dict[str, Any],
    project: dict[str, Any],
    attributes: dict[str, Any],
    actor: str | None,
) -> WebhookChange:
    """A comment: only on an issue, only when made (an edit's action is `update`)."""
    issue = document.get("issue")
    if attributes.get("noteable_type") != "Issue" or not isinstance(issue, dict):
        return WebhookChange(delivery, ChangeKind.IGNORED, None, None, None, actor, event=event)
    # A Note Hook's issue names its assignees by id only (no username, unlike an Issue Hook's
    # `assignees`), so the ticket it carries has the assignee's id and no handle.
    record = _hook_ticket(project, issue, None)
    action = str(attributes.get("action") or "create")
    kind = ChangeKind.COMMENTED if action == "create" and not attributes.get("system") else ChangeKind.IGNORED
    note = attributes.get("note")
    author = attributes.get("author_id")
    return WebhookChange(
        delivery_id=delivery,
        kind=kind,
        key=record.key,
        ticket=record,
        occurred_at=parse_time(attributes.get("created_at")) or record.updated_at,
        actor=str(author) if isinstance(author, int) else actor,
        event=f"{event}.{action}",
        comment=note if isinstance(note, str) else None,
        comment_id=str(attributes["id"]) if attributes.get("id") is not None else None,
    )


def _hook_ticket(project: dict[str, Any], attributes: dict[str, Any], assignees: Any) -> TicketRecord:
    iid = attributes.get("iid")
    if not isinstance(iid, int) or isinstance(iid, bool):
        raise WebhookRejected("the delivery's issue has no iid")
    path = project["path_with_namespace"]
    if PROJECT.match(path) is None:
        raise WebhookRejected("the delivery's project path is not a GitLab project path")
    if assignees is None:
        ids = attributes.get("assignee_ids") or []
        if not isinstance(ids, list):
            raise WebhookRejected("the delivery's assignee_ids are not a list")
        assignees = [{"id": i} for i in ids[:1]]
    if not isinstance(assignees, list):
        raise WebhookRejected("the delivery's assignees are not a list")
    data = {
        **attributes,
        "references": {"full": f"{path}#{iid}"},
        "web_url": attributes.get("url"),
        "assignees": assignees,
    }
    try:
        return ticket(data)
    except InvalidRequest as exc:
        raise WebhookRejected(f"the issue in the delivery is malformed: {exc}") from None


__all__ = ["GitLabConnector"]
