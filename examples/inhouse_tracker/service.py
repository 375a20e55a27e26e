"""A small tracker that speaks Conduit's in-house tracker contract, v1: Starlette and SQLite, one file.

It is what a team adapts to put its own backlog behind Conduit: every endpoint of the contract
(`GET <conduit>/contract/tracker/v1/openapi.json`), requests from Conduit authenticated by their
Standard Webhooks signature, and changes sent back to Conduit as signed deliveries.

- Conduit signs each call with the shared secret the team chose (`whsec_...`, given to Conduit when
  connecting). A request without a valid signature, signed more than five minutes ago, or carrying a
  `webhook-id` already seen is refused with 401: a captured request cannot be replayed.
- Keys are `<PROJECT>-<number>`: the project is Conduit's scope. `id` never changes.
- Changes made here (a status, an assignee, a comment, a deletion) are sent to every webhook Conduit
  registered for the ticket's project, signed with the secret Conduit gave when registering it.

Nothing here imports Conduit; the only libraries are Starlette, httpx and `standardwebhooks`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

CONTRACT = "1"
# (name, whether it means done), in the order people move through them.
STATUSES = (("Open", False), ("In progress", False), ("Done", True), ("Won't fix", True))
MAX_BODY = 1024 * 1024
MAX_TITLE = 500
MAX_TEXT = 65_536
MAX_BATCH = 50
MAX_LABELS = 10
MAX_LABEL = 50
PAGE = 50
RATE_LIMIT = 600  # requests a minute, for all callers together
SEEN_FOR = 600.0  # seconds a request id is remembered: twice the signature's tolerance

Clock = Callable[[], float]
# Sends one change to one webhook: (url, its secret, the delivery id, the body).
Deliver = Callable[[str, str, str, bytes], None]
Endpoint = Callable[[Request], Awaitable[Response]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS people (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT,
    email_shown INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS projects (key TEXT PRIMARY KEY, name TEXT NOT NULL,
    next_number INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL,
    number INTEGER NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL,
    assignee_id TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0, idempotency_key TEXT UNIQUE, labels TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id INTEGER NOT NULL,
    author_id TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL,
    secret TEXT NOT NULL, project TEXT);
CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at REAL NOT NULL);
"""


class Failure(Exception):
    """An answer in the contract's error shape: `{"error": {"code", "message"}}`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> Response:
        body = {"error": {"code": self.code, "message": self.message}}
        return JSONResponse(body, self.status, headers=self.headers)


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Change:
    """One change made in the tracker, to be sent to the webhooks of its project."""

    type: str
    ticket: dict[str, Any]
    actor: str | None
    extra: dict[str, Any]


class Store:
    """The tracker's data in SQLite. One connection behind a lock: a small service needs no more."""

    def __init__(
        self,
        path: str = ":memory:",
        *,
        url: str = "http://127.0.0.1:8600",
        name: str = "Ops board",
        clock: Clock = time.time,
    ) -> None:
        self.url, self.name, self.clock = url.rstrip("/"), name, clock
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)
        if "labels" not in {c["name"] for c in self.db.execute("PRAGMA table_info(tickets)")}:
            # A file made before tickets had labels.
            self.db.execute("ALTER TABLE tickets ADD COLUMN labels TEXT NOT NULL DEFAULT '[]'")
        self.lock = threading.RLock()
        self._last = 0.0
        self.listeners: list[Callable[[Change], None]] = []
        if not self.db.execute("SELECT 1 FROM projects").fetchone():
            self.add_project("OPS", "Operations")
            self.add_person("conduit", "Conduit", None)

    # -- setup ---------------------------------------------------------------------------------------
    def add_project(self, key: str, name: str) -> None:
        with self.lock:
            self.db.execute("INSERT INTO projects (key, name) VALUES (?, ?)", (key, name))

    def add_person(self, person_id: str, name: str, email: str | None, email_shown: bool = True) -> str:
        with self.lock:
            self.db.execute(
                "INSERT INTO people (id, name, email, email_shown) VALUES (?, ?, ?, ?)",
                (person_id, name, email, int(email_shown)),
            )
        return person_id

    def projects(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT key, name FROM projects ORDER BY rowid"))

    # -- reading -------------------------------------------------------------------------------------
    def _stamp(self) -> float:
        """A time later than every earlier one, to the millisecond: each change shows as a change."""
        at = round(self.clock(), 3)
        self._last = at = max(at, round(self._last + 0.001, 3))
        return at

    def person(self, person_id: str | None) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM people WHERE id = ?", (person_id,)).fetchone()
        if row is None:
            return None
        return {"id": row["id"], "name": row["name"], "email": row["email"] if row["email_shown"] else None}

    def render(self, row: sqlite3.Row) -> dict[str, Any]:
        key = f"{row['project']}-{row['number']}"
        done = dict(STATUSES).get(row["status"], False)
        return {
            "id": str(row["id"]),
            "key": key,
            "project": row["project"],
            "url": f"{self.url}/tickets/{key}",
            "title": row["title"],
            "description": row["description"],
            "status": row["status"],
            "done": done,
            "assignee": self.person(row["assignee_id"]),
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
            "deleted": bool(row["deleted"]),
            "labels": json.loads(row["labels"]),
        }

    def row(self, key: str, *, deleted: bool = False) -> sqlite3.Row:
        project, _, number = key.strip().rpartition("-")
        row = None
        if project and number.isdigit():
            row = self.db.execute(
                "SELECT * FROM tickets WHERE project = ? AND number = ?", (project.upper(), int(number))
            ).fetchone()
        if row is None or (row["deleted"] and not deleted):
            raise Failure(404, "not_found", f"no ticket {key[:100]}")
        return row

    def tickets(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        found = []
        for key in dict.fromkeys(keys):
            try:
                found.append(self.render(self.row(key, deleted=True)))
            except Failure:
                continue
        return found

    # -- changing ------------------------------------------------------------------------------------
    def _changed(self, row_id: int, type_: str, actor: str | None, **extra: Any) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM tickets WHERE id = ?", (row_id,)).fetchone()
        ticket = self.render(row)
        for listener in self.listeners:
            listener(Change(type_, ticket, actor, extra))
        return ticket

    def create(
        self,
        actor: str,
        project: str,
        title: str,
        description: str,
        idempotency_key: str | None,
        labels: Sequence[str] = (),
    ) -> tuple[dict[str, Any], bool]:
        """The new ticket, or the one made earlier with the same idempotency key (and False)."""
        with self.lock:
            if idempotency_key:
                row = self.db.execute(
                    "SELECT * FROM tickets WHERE idempotency_key = ?", (idempotency_key,)
                ).fetchone()
                if row is not None:
                    return self.render(row), False
            found = self.db.execute("SELECT next_number FROM projects WHERE key = ?", (project,)).fetchone()
            if found is None:
                raise Failure(422, "invalid", f"no project {project[:50]}", {})
            at = self._stamp()
            self.db.execute("UPDATE projects SET next_number = next_number + 1 WHERE key = ?", (project,))
            cursor = self.db.execute(
                "INSERT INTO tickets (project, number, title, description, status, created_at, updated_at,"
                " idempotency_key, labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    project,
                    found[0],
                    title,
                    description,
                    STATUSES[0][0],
                    at,
                    at,
                    idempotency_key,
                    json.dumps(list(dict.fromkeys(labels))),
                ),
            )
            assert cursor.lastrowid is not None
            return self._changed(cursor.lastrowid, "ticket.created", actor), True

    def set_status(self, actor: str, key: str, status: str) -> dict[str, Any]:
        with self.lock:
            row = self.row(key)
            if status not in dict(STATUSES):
                names = ", ".join(n for n, _ in STATUSES)
                raise Failure(422, "invalid", f"unknown status {status[:50]!r}; one of {names}")
            if row["status"] == status:
                return self.render(row)
            self.db.execute(
                "UPDATE tickets SET status = ?, updated_at = ? WHERE id = ?",
                (status, self._stamp(), row["id"]),
            )
            previous = {"status": row["status"], "done": dict(STATUSES)[row["status"]]}
            return self._changed(row["id"], "ticket.status_changed", actor, previous=previous)

    def assign(self, actor: str, key: str, person_id: str | None) -> dict[str, Any]:
        with self.lock:
            row = self.row(key)
            if person_id is not None and self.person(person_id) is None:
                raise Failure(422, "invalid", f"no person {person_id[:100]}")
            if row["assignee_id"] == person_id:
                return self.render(row)
            self.db.execute(
                "UPDATE tickets SET assignee_id = ?, updated_at = ? WHERE id = ?",
                (person_id, self._stamp(), row["id"]),
            )
            return self._changed(row["id"], "ticket.assigned", actor)

    def comment(self, actor: str, key: str, body: str) -> dict[str, Any]:
        with self.lock:
            row = self.row(key)
            at = self._stamp()
            cursor = self.db.execute(
                "INSERT INTO comments (ticket_id, author_id, body, created_at) VALUES (?, ?, ?, ?)",
                (row["id"], actor, body, at),
            )
            self.db.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (at, row["id"]))
            ticket_key = f"{row['project']}-{row['number']}"
            comment = {
                "id": str(cursor.lastrowid),
                "url": f"{self.url}/tickets/{ticket_key}#comment-{cursor.lastrowid}",
                "body": body,
                "author": self.person(actor),
                "created_at": iso(at),
            }
            self._changed(row["id"], "ticket.commented", actor, comment=comment)
            return comment

    def delete(self, actor: str, key: str) -> None:
        with self.lock:
            row = self.row(key)
            self.db.execute(
                "UPDATE tickets SET deleted = 1, updated_at = ? WHERE id = ?", (self._stamp(), row["id"])
            )
            self._changed(row["id"], "ticket.deleted", actor)

    def seen(self, request_id: str) -> bool:
        """Whether a signed request with this id came before (and remember it if not)."""
        with self.lock:
            now = time.time()
            self.db.execute("DELETE FROM seen WHERE at < ?", (now - SEEN_FOR,))
            try:
                self.db.execute("INSERT INTO seen (id, at) VALUES (?, ?)", (request_id, now))
            except sqlite3.IntegrityError:
                return True
            return False


def send_deliveries(store: Store, deliver: Deliver) -> None:
    """Send each change, as a Standard Webhooks delivery, to the webhooks registered for its project."""

    def on_change(change: Change) -> None:
        body: dict[str, Any] = {
            "type": change.type,
            "timestamp": change.ticket["updated_at"],
            "data": {"ticket": change.ticket, "actor": change.actor, **change.extra},
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        hooks = store.db.execute(
            "SELECT url, secret FROM webhooks WHERE project IS NULL OR project = ?",
            (change.ticket["project"],),
        )
        for url, secret in list(hooks):
            deliver(url, secret, "msg_" + secrets.token_hex(12), raw)

    store.listeners.append(on_change)


def send_now(url: str, secret: str, delivery_id: str, body: bytes) -> None:
    """Send one delivery and wait for the answer; a failure is left for Conduit's reconcile."""
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(delivery_id, now, body.decode()),
    }
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(url, content=body, headers=headers, timeout=10)


def post_delivery(url: str, secret: str, delivery_id: str, body: bytes) -> None:
    """Send one delivery in a thread of its own, so an answer to Conduit is not held up by it."""
    threading.Thread(target=send_now, args=(url, secret, delivery_id, body), daemon=True).start()


# -- the HTTP face -----------------------------------------------------------------------------------
class Limiter:
    """A fixed one-minute window: past `limit` requests, 429 with the seconds until it ends."""

    def __init__(self, limit: int = RATE_LIMIT) -> None:
        self.limit, self.start, self.used = limit, time.time(), 0
        self.lock = threading.Lock()

    def spend(self) -> None:
        with self.lock:
            now = time.time()
            if now >= self.start + 60:
                self.start, self.used = now, 0
            self.used += 1
            if self.used > self.limit:
                wait = max(int(self.start + 60 - now) + 1, 1)
                raise Failure(429, "rate_limited", "too many requests", {"Retry-After": str(wait)})


def signed(
    store: Store, secrets_: Callable[[], Iterable[str]], limiter: Limiter, endpoint: Endpoint
) -> Endpoint:
    """Refuse what Conduit did not sign (or signed long ago, or sent before), then run `endpoint`."""

    async def run(request: Request) -> Response:
        try:
            declared = request.headers.get("content-length", "0")
            if declared.isdigit() and int(declared) > MAX_BODY:
                raise Failure(413, "too_large", f"the body is over {MAX_BODY} bytes")
            body = await request.body()
            if len(body) > MAX_BODY:
                raise Failure(413, "too_large", f"the body is over {MAX_BODY} bytes")
            headers = dict(request.headers)
            if not all(headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")):
                raise Failure(401, "unauthorized", "the request is not signed")
            for secret in secrets_():
                try:
                    Webhook(secret).verify(body, headers, json_parse=False)
                except (WebhookVerificationError, ValueError):
                    continue
                break
            else:
                raise Failure(401, "unauthorized", "the signature does not match, or it is too old")
            if store.seen(headers["webhook-id"]):
                raise Failure(401, "unauthorized", "this request was sent before (a replay)")
            limiter.spend()
            return await endpoint(request)
        except Failure as failure:
            return failure.response()

    return run


async def body_of(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, RecursionError):
        raise Failure(400, "invalid", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Failure(400, "invalid", "the body is not a JSON object")
    return data


def text(data: dict[str, Any], field: str, limit: int, *, required: bool = True) -> str | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise Failure(422, "invalid", f"`{field}` must be a non-empty string")
    if len(value) > limit or "\x00" in value:
        raise Failure(422, "invalid", f"`{field}` is longer than {limit} characters or holds NUL")
    return value


def offset_of(request: Request) -> tuple[int, int]:
    cursor = request.query_params.get("cursor")
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        limit = int(request.query_params.get("limit", str(PAGE)))
    except ValueError:
        raise Failure(400, "invalid", "`cursor` or `limit` is not one this service gave") from None
    if offset < 0 or not 1 <= limit <= 100:
        raise Failure(400, "invalid", "`limit` is 1 to 100")
    return offset, limit


def next_cursor(offset: int, limit: int, count: int) -> str | None:
    return base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if count > limit else None


def routes(
    store: Store, secrets_: Callable[[], Iterable[str]], limiter: Limiter | None = None
) -> list[BaseRoute]:
    """The contract's endpoints, each behind the signature check."""
    limiter = limiter or Limiter()
    actor = "conduit"  # changes made through the API are Conduit's, told apart from a person's

    async def describe(request: Request) -> Response:
        return JSONResponse(
            {
                "contract": CONTRACT,
                "id": "inhouse-" + store.name.lower().replace(" ", "-"),
                "name": store.name,
                "url": store.url,
                "statuses": [{"name": n, "done": d} for n, d in STATUSES],
                "projects": [{"key": p["key"], "name": p["name"]} for p in store.projects()],
                "capabilities": ["changed_since", "webhooks"],
            }
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def create(request: Request) -> Response:
        data = await body_of(request)
        project = text(data, "project", 50)
        title = text(data, "title", MAX_TITLE)
        description = text(data, "description", MAX_TEXT, required=False) or ""
        idem = text(data, "idempotency_key", 200, required=False)
        labels = data.get("labels", [])
        if not isinstance(labels, list) or len(labels) > MAX_LABELS:
            raise Failure(422, "invalid", f"`labels` is a list of at most {MAX_LABELS} names")
        if not all(isinstance(n, str) and 0 < len(n) <= MAX_LABEL for n in labels):
            raise Failure(422, "invalid", f"each label is a name of 1 to {MAX_LABEL} characters")
        assert project is not None and title is not None
        ticket, made = store.create(actor, project.upper(), title, description, idem, labels)
        return JSONResponse(ticket, 201 if made else 200)

    async def read(request: Request) -> Response:
        keys = request.query_params.getlist("key")
        if not keys or len(keys) > MAX_BATCH:
            raise Failure(400, "invalid", f"give 1 to {MAX_BATCH} `key` parameters")
        return JSONResponse({"tickets": store.tickets(k[:120] for k in keys)})

    async def status(request: Request) -> Response:
        value = text(await body_of(request), "status", 100)
        assert value is not None
        return JSONResponse(store.set_status(actor, request.path_params["key"], value))

    async def assignee(request: Request) -> Response:
        data = await body_of(request)
        if "assignee" not in data:
            raise Failure(422, "invalid", "`assignee` is required (null unassigns)")
        person = text(data, "assignee", 200, required=False)
        return JSONResponse(store.assign(actor, request.path_params["key"], person))

    async def comment(request: Request) -> Response:
        body = text(await body_of(request), "body", MAX_TEXT)
        assert body is not None
        return JSONResponse(store.comment(actor, request.path_params["key"], body), 201)

    async def comments(request: Request) -> Response:
        row = store.row(request.path_params["key"])
        offset, limit = offset_of(request)
        rows = list(
            store.db.execute(
                "SELECT * FROM comments WHERE ticket_id = ? ORDER BY id LIMIT ? OFFSET ?",
                (row["id"], limit + 1, offset),
            )
        )
        items = [
            {
                "id": str(c["id"]),
                "body": c["body"],
                "author": store.person(c["author_id"]),
                "created_at": iso(c["created_at"]),
            }
            for c in rows[:limit]
        ]
        return JSONResponse({"comments": items, "next_cursor": next_cursor(offset, limit, len(rows))})

    async def people(request: Request) -> Response:
        offset, limit = offset_of(request)
        email = request.query_params.get("email", "").strip().lower()
        query = "%" + request.query_params.get("query", "").strip().lower()[:100] + "%"
        if email:
            # An exact address finds its person even when the address is not shown in lists.
            sql, args = "SELECT id FROM people WHERE lower(email) = ?", [email]
        else:
            sql, args = (
                "SELECT id FROM people WHERE lower(name) LIKE ? OR (email_shown AND lower(email) LIKE ?)",
                [query, query],
            )
        rows = list(store.db.execute(sql + " ORDER BY rowid LIMIT ? OFFSET ?", (*args, limit + 1, offset)))
        found = [store.person(r["id"]) for r in rows[:limit]]
        if email:
            found = [dict(p, email=email) for p in found if p is not None]
        return JSONResponse({"people": found, "next_cursor": next_cursor(offset, limit, len(rows))})

    async def search(request: Request) -> Response:
        project = request.query_params.get("project", "").upper()
        words = request.query_params.get("q", "").lower().split()[:10]
        offset, limit = offset_of(request)
        sql = "SELECT * FROM tickets WHERE project = ? AND NOT deleted"
        args: list[Any] = [project]
        for word in words:
            sql += " AND (lower(title) LIKE ? OR lower(description) LIKE ?)"
            args += [f"%{word}%", f"%{word}%"]
        rows = list(store.db.execute(sql + " ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit + 1, offset)))
        items = [store.render(r) for r in rows[:limit]]
        return JSONResponse({"tickets": items, "next_cursor": next_cursor(offset, limit, len(rows))})

    async def changes(request: Request) -> Response:
        project = request.query_params.get("project", "").upper()
        try:
            since = datetime.fromisoformat(request.query_params.get("since", "").replace("Z", "+00:00"))
        except ValueError:
            raise Failure(400, "invalid", "`since` is an ISO 8601 time") from None
        offset, limit = offset_of(request)
        rows = list(
            store.db.execute(
                "SELECT * FROM tickets WHERE project = ? AND updated_at >= ? ORDER BY updated_at, id"
                " LIMIT ? OFFSET ?",
                (project, since.timestamp(), limit + 1, offset),
            )
        )
        items = [store.render(r) for r in rows[:limit]]
        return JSONResponse({"tickets": items, "next_cursor": next_cursor(offset, limit, len(rows))})

    async def add_webhook(request: Request) -> Response:
        data = await body_of(request)
        url = text(data, "url", 2000)
        secret = text(data, "secret", 200)
        project = text(data, "project", 50, required=False)
        assert url is not None and secret is not None
        if not url.startswith(("http://", "https://")) or not secret.startswith("whsec_"):
            raise Failure(422, "invalid", "`url` is http(s) and `secret` a whsec_ secret")
        with store.lock:
            cursor = store.db.execute(
                "INSERT INTO webhooks (url, secret, project) VALUES (?, ?, ?)",
                (url, secret, project.upper() if project else None),
            )
        return JSONResponse({"id": str(cursor.lastrowid)}, 201)

    async def remove_webhook(request: Request) -> Response:
        with store.lock:
            gone = store.db.execute("DELETE FROM webhooks WHERE id = ?", (request.path_params["id"],))
        if not gone.rowcount:
            raise Failure(404, "not_found", "no such webhook")
        return Response(status_code=204)

    def route(path: str, endpoint: Endpoint, method: str, name: str) -> Route:
        async def safe(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Failure as failure:
                return failure.response()

        return Route(path, signed(store, secrets_, limiter, safe), methods=[method], name=name)

    return [
        route("/describe", describe, "GET", "describe"),
        route("/health", health, "GET", "health"),
        route("/tickets", create, "POST", "tickets.create"),
        route("/tickets", read, "GET", "tickets.read"),
        route("/tickets/{key}/status", status, "POST", "tickets.status"),
        route("/tickets/{key}/assignee", assignee, "POST", "tickets.assignee"),
        route("/tickets/{key}/comments", comment, "POST", "tickets.comment"),
        route("/tickets/{key}/comments", comments, "GET", "tickets.comments"),
        route("/people", people, "GET", "people.list"),
        route("/search", search, "GET", "tickets.search"),
        route("/changes", changes, "GET", "tickets.changes"),
        route("/webhooks", add_webhook, "POST", "webhooks.add"),
        route("/webhooks/{id}", remove_webhook, "DELETE", "webhooks.remove"),
    ]


def create_app(store: Store, conduit_secrets: list[str]) -> Starlette:
    """The service on its own: Conduit's calls checked against `conduit_secrets`, changes posted."""
    send_deliveries(store, post_delivery)
    return Starlette(routes=routes(store, lambda: conduit_secrets))
