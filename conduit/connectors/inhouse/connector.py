"""An in-house tracker: any HTTP service that implements Conduit's tracker contract, v1.

The contract (`contract.py`, served at `/contract/tracker/v1/openapi.json`) is what this connector
speaks; nothing here knows a particular service. Invariants:

- Every call is signed with Standard Webhooks headers under the installation's shared `whsec_`
  secret (`sign_request`), over the exact body bytes; a fresh `webhook-id` each time, so the service
  can refuse a replay. The secret itself is never sent.
- Keys are `<PROJECT>-<number>`; the scope is the project. `id` is the ticket's for good
  (`tracker_id`).
- Whether a status means done is the service's word: each ticket says it (`done`), and `describe`
  lists the statuses, so a status the service never described is still understood.
- Whatever the service answers is untrusted input: a reply that is not the contract's shape is an
  InvalidRequest naming the field, never a crash or a half-applied change.
- Deliveries from the service are Standard Webhooks deliveries signed with the installation's
  webhook secret (the key is the secret's bytes; Conduit registers it with the service as
  `whsec_<base64>`), refused when more than five minutes from now.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from conduit.connectors.api import Api
from conduit.connectors.base import (
    Connector,
    TicketDraft,
    WebhookContext,
    deleted_ticket,
    header,
    load_webhook_json,
    moves_from,
)
from conduit.connectors.config import SyncConfig
from conduit.connectors.errors import InvalidRequest, NotFound
from conduit.connectors.inhouse.catalog import INHOUSE
from conduit.connectors.oauth import ClientCredentials
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
from conduit.connectors.text import markdown, time_or_none
from conduit.webhooks.signing import InvalidSecret
from conduit.webhooks.signing import headers as signed_headers

CONTRACT_VERSION = "1"
KEY = re.compile(r"^(?P<project>[A-Za-z][A-Za-z0-9_]{0,49})-(?P<number>[0-9]{1,18})$")
PROJECT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
# How many tickets one read asks for (the contract's limit).
BATCH = 50
PAGE = 100
# A listing of changes longer than this many pages is not trusted to be complete: read by key instead.
MAX_PAGES = 20
# Deliveries signed further than this from now are refused (the Standard Webhooks tolerance).
TOLERANCE = 300
# How long a service's self-description is reused before it is asked again.
DESCRIBE_TTL = 300.0
MAX_TEXT = 65_536


def sign_request(secret: str, body: bytes) -> Mapping[str, str]:
    """The Standard Webhooks headers for one call: a fresh id, now, and v1 over `id.timestamp.body`."""
    try:
        return signed_headers("req_" + secrets.token_hex(12), body, [secret])
    except InvalidSecret as exc:
        raise InvalidRequest(f"the signing secret is not a Standard Webhooks secret: {exc}") from None


def check_scope(scope: str) -> str:
    if not PROJECT.match(scope.strip()):
        raise InvalidRequest(f"{scope[:60]!r} is not a project key of an in-house tracker (e.g. OPS)")
    return scope.strip().upper()


def split_key(key: str) -> tuple[str, int]:
    match = KEY.match(key.strip())
    if match is None:
        raise InvalidRequest(f"{key[:60]!r} is not an in-house ticket key; expected <PROJECT>-<number>")
    return match.group("project").upper(), int(match.group("number"))


@dataclass(frozen=True, slots=True)
class Description:
    """What `GET /describe` says of the service."""

    id: str
    name: str
    url: str | None
    statuses: tuple[tuple[str, bool], ...]
    capabilities: frozenset[str]
    # The project keys the service lists (upper case).
    projects: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, data: Any) -> Description:
        if not isinstance(data, dict):
            raise InvalidRequest("the service's describe answer is not a JSON object")
        if str(data.get("contract")) != CONTRACT_VERSION:
            given = str(data.get("contract"))[:20]
            raise InvalidRequest(f"the service implements contract {given!r}, not {CONTRACT_VERSION!r}")
        for field in ("id", "name"):
            if not isinstance(data.get(field), str) or not data[field].strip():
                raise InvalidRequest(f"the service's describe answer has no `{field}`")
        raw = data.get("statuses")
        if not isinstance(raw, list) or not raw:
            raise InvalidRequest("the service's describe answer lists no `statuses`")
        statuses: list[tuple[str, bool]] = []
        for item in raw[:200]:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                raise InvalidRequest("a status in the service's describe answer has no `name`")
            if not isinstance(item.get("done"), bool):
                raise InvalidRequest(f"the status {item['name'][:60]!r} does not say whether it is `done`")
            statuses.append((item["name"][:200], item["done"]))
        if not any(done for _, done in statuses) or all(done for _, done in statuses):
            raise InvalidRequest("the service's statuses need at least one done and one not done")
        capabilities = data.get("capabilities") or []
        listed = data.get("projects")
        projects: list[Any] = listed if isinstance(listed, list) else []
        url = data.get("url")
        return cls(
            id=data["id"][:200],
            name=data["name"][:200],
            url=url if isinstance(url, str) and url.startswith(("http://", "https://")) else None,
            statuses=tuple(statuses),
            capabilities=frozenset(c for c in capabilities if isinstance(c, str))
            if isinstance(capabilities, list)
            else frozenset(),
            projects=frozenset(
                p["key"].strip().upper()
                for p in projects[:1000]
                if isinstance(p, dict) and isinstance(p.get("key"), str)
            ),
        )


# Descriptions by (API root, installation): one `describe` call serves many status changes.
_DESCRIBED: dict[tuple[str, int], tuple[float, Description]] = {}


class InhouseConnector(Connector):
    provider = INHOUSE

    def __init__(self, api: Api, config: SyncConfig, client: ClientCredentials | None = None) -> None:
        # The credential signs each call (see the module docstring) instead of travelling in a header.
        super().__init__(replace(api, signer=sign_request), config, client)

    @classmethod
    def scope_of(cls, key: str) -> str:
        return split_key(key)[0]

    # -- the service's own words ---------------------------------------------------------------------
    async def describe(self, fresh: bool = False) -> Description:
        cache = (self.api.endpoints.api, self.api.target.installation_id)
        cached = _DESCRIBED.get(cache)
        if cached is not None and not fresh and cached[0] > time.monotonic():
            return cached[1]
        if not self.api.endpoints.api:
            raise InvalidRequest(
                "an in-house tracker has no cloud: give the contract base URL of its service"
            )
        reply = await self.api.call("account.discover", "GET", "/describe")
        description = Description.parse(reply.data)
        _DESCRIBED[cache] = (time.monotonic() + DESCRIBE_TTL, description)
        return description

    def ticket(self, data: Any) -> TicketRecord:
        """A ticket of the contract, checked field by field."""
        if not isinstance(data, dict):
            raise InvalidRequest("the service answered with something that is not a ticket")
        for field in ("id", "key", "url", "title", "status"):
            if not isinstance(data.get(field), str):
                raise InvalidRequest(f"the service answered with a ticket without a `{field}` string")
        split_key(data["key"])
        if not isinstance(data.get("done"), bool):
            raise InvalidRequest(f"the service's ticket {data['key'][:60]} does not say whether it is `done`")
        assignee = data.get("assignee")
        if assignee is not None and (
            not isinstance(assignee, dict) or not isinstance(assignee.get("id"), str)
        ):
            raise InvalidRequest(f"the assignee of the service's ticket {data['key'][:60]} has no `id`")
        email = assignee.get("email") if assignee else None
        return TicketRecord(
            key=data["key"].upper(),
            url=data["url"][:2000],
            title=data["title"][:1000],
            status=data["status"][:200],
            status_category=StatusCategory.DONE if data["done"] else StatusCategory.OPEN,
            assignee_email=email if isinstance(email, str) and email else None,
            updated_at=time_or_none(data.get("updated_at")),
            deleted=data.get("deleted") is True,
            assignee=str(assignee.get("name") or assignee["id"])[:200] if assignee else None,
            assignee_id=assignee["id"][:200] if assignee else None,
            tracker_id=data["id"][:200],
        )

    # -- installing ----------------------------------------------------------------------------------
    async def discover_account(self) -> AccountRecord:
        """One signed `describe`: proves the service knows the secret and speaks the contract."""
        description = await self.describe(fresh=True)
        return AccountRecord(
            id=description.id, name=description.name, url=description.url or self.api.endpoints.api
        )

    async def register_webhook(self, scope: str, url: str, secret: str) -> WebhookRegistration:
        body = {"url": url, "secret": webhook_secret(secret), "project": check_scope(scope)}
        reply = await self.api.call("webhook.register", "POST", "/webhooks", json=body)
        data = reply.data if isinstance(reply.data, dict) else {}
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise InvalidRequest("the service registered the webhook but gave no `id` for it")
        return WebhookRegistration(id=data["id"][:200], secret=secret)

    async def unregister_webhook(self, scope: str, webhook_id: str) -> None:
        try:
            await self.api.call("webhook.unregister", "DELETE", "/webhooks/{id}", path={"id": webhook_id})
        except NotFound:
            return

    # -- tickets -------------------------------------------------------------------------------------
    async def create_ticket(self, scope: str, draft: TicketDraft) -> TicketRecord:
        body: dict[str, Any] = {
            "project": check_scope(scope),
            "title": draft.title[:500],
            "description": markdown(draft)[:MAX_TEXT],
            # The same call sent again (a lost answer) makes no second ticket.
            "idempotency_key": str(uuid.uuid4()),
        }
        if draft.labels:
            # By name; a service that has no labels ignores them (the contract makes them optional).
            body["labels"] = list(draft.labels)
        reply = await self.api.call("ticket.create", "POST", "/tickets", json=body)
        return self.ticket(reply.data)

    async def _read(self, keys: Sequence[str]) -> dict[str, TicketRecord]:
        found: dict[str, TicketRecord] = {}
        for start in range(0, len(keys), BATCH):
            chunk = list(keys[start : start + BATCH])
            reply = await self.api.call("ticket.get", "GET", "/tickets", params={"key": chunk})
            data = reply.data if isinstance(reply.data, dict) else {}
            tickets = data.get("tickets")
            if not isinstance(tickets, list):
                raise InvalidRequest("the service's answer to a ticket read has no `tickets` list")
            for item in tickets:
                record = self.ticket(item)
                found[record.key] = record
        return found

    async def get_ticket(self, key: str, known: TicketRecord | None = None) -> TicketRecord:
        split_key(key)
        record = (await self._read([key])).get(key.strip().upper())
        if record is None or record.deleted:
            raise NotFound(f"{key} is not in the in-house tracker (deleted, or never there)")
        return record

    async def get_tickets(
        self, keys: Sequence[str], known: Mapping[str, TicketRecord] | None = None
    ) -> dict[str, TicketRecord]:
        """Read in batches of BATCH; a key the service does not return, or returns deleted, is deleted."""
        known = known or {}
        wanted = list(dict.fromkeys(keys))
        for key in wanted:
            split_key(key)
        found = await self._read(wanted)
        result: dict[str, TicketRecord] = {}
        for key in wanted:
            record = found.get(key.strip().upper())
            result[key] = record if record and not record.deleted else self.deleted(key, known.get(key))
        return result

    def deleted(self, key: str, known: TicketRecord | None) -> TicketRecord:
        return deleted_ticket(key, known)

    async def changed_since(self, scope: str, since: datetime) -> list[TicketRecord] | None:
        """The `changes` listing, page by page, where the service offers it."""
        project = check_scope(scope)
        if "changed_since" not in (await self.describe()).capabilities:
            return None
        records: list[TicketRecord] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"project": project, "since": since.astimezone(UTC).isoformat()}
            params |= {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
            reply = await self.api.call("ticket.list_changed", "GET", "/changes", params=params)
            tickets, cursor = _page(reply.data, "tickets")
            records += [self.ticket(t) for t in tickets]
            if cursor is None:
                return [r for r in records if not r.deleted]
        return None

    async def search(self, scope: str, text: str, limit: int = 20) -> list[TicketRecord]:
        params = {"project": check_scope(scope), "q": text[:200], "limit": max(1, min(limit, PAGE))}
        reply = await self.api.call("ticket.search", "GET", "/search", params=params)
        tickets, _ = _page(reply.data, "tickets")
        return [self.ticket(t) for t in tickets][:limit]

    async def set_status(
        self,
        key: str,
        resolved: bool,
        config: SyncConfig | None = None,
        known: TicketRecord | None = None,
    ) -> TicketRecord:
        """Move the ticket to the configured status, else the first the service describes as done (or,
        to reopen, not done); a ticket already there is left alone. The statuses are the service's
        (described once and kept), so a stored copy that says the ticket must move is enough to move
        it: one call."""
        config = config or self.config
        if not moves_from(known, key, resolved, config):
            current = await self.get_ticket(key)
            if config.is_resolved(current.status, current.status_category) == resolved:
                return current
        statuses = (await self.describe()).statuses
        wanted = config.resolve_status if resolved else config.reopen_status
        if wanted:
            chosen = next((n for n, _ in statuses if n.casefold() == wanted.casefold()), None)
        else:
            chosen = next(
                (
                    n
                    for n, done in statuses
                    if config.is_resolved(n, StatusCategory.DONE if done else StatusCategory.OPEN) == resolved
                ),
                None,
            )
        if chosen is None:
            names = ", ".join(n for n, _ in statuses)
            verb = "resolve" if resolved else "reopen"
            raise InvalidRequest(
                f"no status of the in-house tracker can {verb} {key} (its statuses: {names}); set the "
                f"installation's {verb}_status to one of them"
            )
        reply = await self.api.call(
            "ticket.set_status", "POST", "/tickets/{key}/status", path={"key": key}, json={"status": chosen}
        )
        return self.ticket(reply.data)

    async def statuses(self, scopes: Sequence[str]) -> list[str]:
        """The service's statuses, the same for every project; NotFound for a project it does not list."""
        wanted = [check_scope(scope) for scope in scopes]
        description = await self.describe(fresh=True)
        missing = [p for p in wanted if p not in description.projects]
        if missing:
            raise NotFound(f"the service lists no project {', '.join(missing)}")
        return [name for name, _ in description.statuses]

    async def find_user(self, email: str) -> str | None:
        """The contract's exact email lookup, which finds a person even where lists hide the address."""
        reply = await self.api.call("user.find", "GET", "/people", params={"email": email.strip()[:320]})
        people, _ = _page(reply.data, "people")
        for person in people:
            if isinstance(person, dict) and isinstance(person.get("id"), str) and person["id"]:
                return person["id"][:200]
        return None

    async def assign(self, key: str, account: str | None) -> TicketRecord:
        split_key(key)
        reply = await self.api.call(
            "ticket.assign", "POST", "/tickets/{key}/assignee", path={"key": key}, json={"assignee": account}
        )
        return self.ticket(reply.data)

    async def comment(self, key: str, body: str) -> CommentRecord:
        split_key(key)
        reply = await self.api.call(
            "ticket.comment",
            "POST",
            "/tickets/{key}/comments",
            path={"key": key},
            json={"body": body[:MAX_TEXT]},
        )
        data = reply.data if isinstance(reply.data, dict) else {}
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise InvalidRequest("the service added the comment but gave no `id` for it")
        url = data.get("url")
        return CommentRecord(id=data["id"][:200], url=url[:2000] if isinstance(url, str) else None)

    # -- webhooks in ---------------------------------------------------------------------------------
    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        context: WebhookContext | None = None,
    ) -> None:
        """Standard Webhooks: v1 HMAC-SHA256 over `id.timestamp.body`, within TOLERANCE of now."""
        if not secret:
            raise WebhookRejected("no webhook secret is configured for this installation")
        msg_id, stamp, given = (
            header(headers, h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
        )
        if not msg_id or not stamp or not given:
            raise WebhookRejected("the delivery is not signed (webhook-id, -timestamp and -signature)")
        if not stamp.isdigit() or len(stamp) > 12:
            raise WebhookRejected("webhook-timestamp is not whole unix seconds")
        if abs(time.time() - int(stamp)) > TOLERANCE:
            raise WebhookRejected("webhook-timestamp is more than 5 minutes from now: stale or replayed")
        signed = f"{msg_id}.{stamp}.".encode() + body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
        for candidate in given.split():
            version, _, encoded = candidate.partition(",")
            if version != "v1":
                continue
            try:
                decoded = base64.b64decode(encoded, validate=True)
            except ValueError:
                continue
            if hmac.compare_digest(decoded, expected):
                return
        raise WebhookRejected("no v1 webhook-signature matches the body")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookChange:
        document = load_webhook_json(body)
        if not isinstance(document, dict) or not isinstance(document.get("type"), str):
            raise WebhookRejected("the delivery has no `type`")
        if not isinstance(document.get("data"), dict):
            raise WebhookRejected("the delivery has no `data` object")
        try:
            return self._change(header(headers, "webhook-id"), document)
        except InvalidRequest as exc:
            raise WebhookRejected(f"the delivery is malformed: {exc.message}") from None
        except (AttributeError, TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
            raise WebhookRejected(f"the delivery is malformed: {str(exc)[:200]}") from None

    def _change(self, delivery: str | None, document: dict[str, Any]) -> WebhookChange:
        event, data = document["type"][:100], document["data"]
        occurred = time_or_none(document.get("timestamp"))
        actor = data.get("actor") if isinstance(data.get("actor"), str) else None
        if not event.startswith("ticket."):
            return WebhookChange(delivery, ChangeKind.IGNORED, None, None, occurred, actor, event=event)
        record = self.ticket(data.get("ticket"))
        kind, comment, comment_id, status_from = ChangeKind.IGNORED, None, None, None
        if event == "ticket.created":
            kind = ChangeKind.CREATED
        elif event == "ticket.deleted":
            kind, record = ChangeKind.DELETED, replace(record, deleted=True)
        elif event == "ticket.commented":
            note = data.get("comment")
            if (
                not isinstance(note, dict)
                or not isinstance(note.get("id"), str)
                or not isinstance(note.get("body"), str)
            ):
                raise InvalidRequest("a ticket.commented delivery carries no comment with `id` and `body`")
            kind, comment, comment_id = ChangeKind.COMMENTED, note["body"], note["id"][:200]
        elif event == "ticket.assigned":
            kind = ChangeKind.ASSIGNED if record.assignee_id else ChangeKind.UNASSIGNED
        elif event == "ticket.status_changed":
            previous = data.get("previous") if isinstance(data.get("previous"), dict) else {}
            status_from = previous.get("status") if isinstance(previous.get("status"), str) else None
            before = StatusCategory.DONE if previous.get("done") is True else StatusCategory.OPEN
            was = self.config.is_resolved(status_from or "", before) if status_from else None
            now = self.config.is_resolved(record.status, record.status_category)
            kind = (
                ChangeKind.CLOSED
                if now and was is not True
                else ChangeKind.REOPENED
                if was and not now
                else ChangeKind.STATUS_CHANGED
            )
        elif event == "ticket.updated":
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
            status_to=record.status
            if kind in (ChangeKind.CLOSED, ChangeKind.REOPENED, ChangeKind.STATUS_CHANGED)
            else None,
        )


def webhook_secret(secret: str) -> str:
    """The installation's webhook secret as the service's Standard Webhooks library takes it."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def _page(data: Any, field: str) -> tuple[list[Any], str | None]:
    """One page of a listing: its items and the cursor of the next page (None: the last)."""
    if not isinstance(data, dict) or not isinstance(data.get(field), list):
        raise InvalidRequest(f"the service's listing has no `{field}` list")
    cursor = data.get("next_cursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor or len(cursor) > 1000):
        raise InvalidRequest("the service's listing has a `next_cursor` that is not a string")
    return data[field], cursor


__all__ = ["InhouseConnector", "sign_request", "webhook_secret"]
