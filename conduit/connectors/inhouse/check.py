"""`conduit tracker-check URL`: does a service keep the in-house tracker contract? One line per check.

It calls the service as Conduit would (signed with the shared secret) and as Conduit never would
(unsigned, under another key, stale, replayed, with a body altered after signing), and checks each
answer's status code and shape against the contract's schemas (`contract.py`), and how long it took.
It creates one ticket (in `project`, by default the first the service describes) and changes it.

It runs where a person runs it, against the URL they give, so it uses a plain HTTP client rather than
the guarded client of installations (which records interactions for an installation it has none of).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from conduit.connectors.inhouse.connector import KEY, sign_request
from conduit.connectors.inhouse.contract import problems, schema
from conduit.webhooks.signing import generate_secret, parse_secret
from conduit.webhooks.signing import headers as signed_headers

# The contract's promise; what Conduit waits for is longer, but a service this slow stalls a sync.
SLOW = 5.0
TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    passed: bool
    why: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.why}"


@dataclass
class Answer:
    status: int
    data: Any
    headers: httpx.Headers
    seconds: float


@dataclass
class Checker:
    base: str
    secret: str
    client: httpx.Client
    slow: float = SLOW
    results: list[Result] = field(default_factory=list)
    timings: list[tuple[float, str]] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        sign: Callable[[bytes], dict[str, str]] | None = None,
        send: bytes | None = None,
    ) -> Answer:
        """One call; signed as Conduit signs unless `sign` says otherwise; `send` replaces the body
        after signing (a body altered in transit)."""
        raw = json.dumps(body).encode() if body is not None else b""
        headers = dict(sign(raw) if sign is not None else sign_request(self.secret, raw))
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        reply = self.client.request(
            method,
            self.base + path,
            content=send if send is not None else raw,
            params=params,
            headers=headers,
        )
        seconds = time.perf_counter() - started
        self.timings.append((seconds, f"{method} {path}"))
        if reply.status_code == 429:
            # The contract's rate-limit signal: a Retry-After in whole seconds says when to come back.
            wait = reply.headers.get("retry-after", "")
            self.record(
                "rate limit",
                wait.isdigit(),
                f"{method} {path} was rate limited with Retry-After "
                f"{wait!r}" + ("" if wait.isdigit() else "; send whole seconds"),
            )
        try:
            data = reply.json() if reply.content else None
        except ValueError:
            data = "<not JSON>"
        return Answer(reply.status_code, data, reply.headers, seconds)

    def record(self, name: str, passed: bool, why: str) -> bool:
        self.results.append(Result(name, passed, why))
        return passed

    def expect(self, name: str, answer: Answer, status: int | tuple[int, ...], shape: str, what: str) -> bool:
        """The answer has one of the statuses and the contract's shape: PASS, or FAIL saying how not."""
        wanted = status if isinstance(status, tuple) else (status,)
        if answer.status not in wanted:
            said = _error_words(answer)
            expected = " or ".join(map(str, wanted))
            return self.record(name, False, f"{what} answered {answer.status}, expected {expected}{said}")
        found = problems(answer.data, schema(shape))
        if found:
            return self.record(name, False, f"{what}: the answer is not a {shape}: {'; '.join(found[:3])}")
        return self.record(name, True, f"{what} answered {answer.status} with a {shape}")

    def refused(self, name: str, answer: Answer, what: str) -> bool:
        if answer.status != 401:
            return self.record(name, False, f"{what} answered {answer.status}; it must be refused with 401")
        found = problems(answer.data, schema("Error"))
        if found:
            return self.record(name, False, f"{what} was refused, but not in the error shape: {found[0]}")
        return self.record(name, True, f"{what} is refused with 401")


def _error_words(answer: Answer) -> str:
    data = answer.data
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return f" ({str(data['error'].get('message'))[:120]})"
    return ""


def run_checks(
    base_url: str,
    secret: str,
    *,
    project: str | None = None,
    slow: float = SLOW,
    client: httpx.Client | None = None,
) -> list[Result]:
    """Every check, in order; later checks that need a ticket are skipped (FAIL) when none was made."""
    base = base_url.rstrip("/")
    try:
        parse_secret(secret)
    except ValueError as exc:
        return [Result("secret", False, f"the secret is not a Standard Webhooks secret: {exc}")]
    own = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    checker = Checker(base, secret, own, slow)
    try:
        _run(checker, project)
    except httpx.HTTPError as exc:
        checker.record("connection", False, f"could not reach {base}: {type(exc).__name__}: {exc}"[:300])
    finally:
        if client is None:
            own.close()
    return checker.results


def _run(c: Checker, project: str | None) -> None:
    described = c.call("GET", "/describe")
    if not c.expect("describe", described, 200, "Description", "GET /describe"):
        return
    statuses = [(s["name"], s["done"]) for s in described.data["statuses"]]
    both = any(d for _, d in statuses) and not all(d for _, d in statuses)
    c.record(
        "statuses",
        both,
        "at least one status means done and one does not"
        if both
        else "the statuses need at least one done and one not done",
    )
    projects = [p["key"] for p in described.data["projects"]]
    project = project or (projects[0] if projects else None)
    c.expect("health", c.call("GET", "/health"), 200, "Health", "GET /health")

    # Trust: only Conduit's signed, fresh, first-time requests are taken.
    c.refused(
        "unsigned request",
        c.call("GET", "/describe", sign=lambda body: {}),
        "GET /describe without a signature",
    )
    other = generate_secret()
    c.refused(
        "wrong secret",
        c.call("GET", "/describe", sign=lambda body: dict(sign_request(other, body))),
        "GET /describe signed with another secret",
    )
    stale = int(time.time()) - 600
    c.refused(
        "stale timestamp",
        c.call(
            "GET", "/describe", sign=lambda body: signed_headers(_id(), body, [c.secret], timestamp=stale)
        ),
        "GET /describe signed 10 minutes ago",
    )
    once = signed_headers(_id(), b"", [c.secret])
    c.call("GET", "/describe", sign=lambda body: once)
    c.refused(
        "replayed request",
        c.call("GET", "/describe", sign=lambda body: once),
        "the same signed request twice",
    )
    if project is None:
        c.record("create ticket", False, "describe lists no project to create a ticket in; pass --project")
        return
    draft = {
        "project": project,
        "title": "tracker-check probe " + secrets.token_hex(4),
        "description": "probe",
    }
    c.refused(
        "altered body",
        c.call("POST", "/tickets", body={**draft, "idempotency_key": _id()}, send=json.dumps(draft).encode()),
        "POST /tickets with a body changed after signing",
    )

    # The ticket's life, as Conduit drives it.
    key_ = _id()
    created = c.call("POST", "/tickets", body={**draft, "idempotency_key": key_})
    if not c.expect("create ticket", created, 201, "Ticket", "POST /tickets"):
        return
    ticket = created.data
    key = ticket["key"]
    good_key = bool(KEY.match(key)) and key.upper().startswith(project.upper() + "-")
    c.record(
        "ticket key",
        good_key,
        f"{key} is <PROJECT>-<number> in {project}"
        if good_key
        else f"{key[:60]!r} is not <PROJECT>-<number> in {project}",
    )
    again = c.call("POST", "/tickets", body={**draft, "idempotency_key": key_})
    same = (
        again.status in (200, 201) and isinstance(again.data, dict) and again.data.get("id") == ticket["id"]
    )
    c.record(
        "idempotency",
        same,
        "the same idempotency_key gives back the same ticket"
        if same
        else f"the same idempotency_key answered {again.status} and another ticket",
    )
    read = c.call("GET", "/tickets", params={"key": [key, f"{project}-999999999"]})
    if c.expect("read tickets", read, 200, "Tickets", "GET /tickets?key=..."):
        keys = [t.get("key") for t in read.data["tickets"]]
        c.record("read batch", keys == [key], f"reading {key} and an unknown key gives {keys}")
    done = next((n for n, d in statuses if d), None)
    todo = next((n for n, d in statuses if not d), None)
    for name, status, flag in (("resolve", done, True), ("reopen", todo, False)):
        answer = c.call("POST", f"/tickets/{key}/status", body={"status": status})
        if c.expect(name, answer, 200, "Ticket", f"POST /tickets/{key}/status {status!r}"):
            c.record(
                f"{name} done flag",
                answer.data["done"] is flag,
                f"after {status!r}, done is {answer.data['done']}",
            )
    unknown = c.call("POST", f"/tickets/{key}/status", body={"status": "no-such-status-" + _id()})
    c.expect("unknown status", unknown, (400, 422), "Error", "POST a status describe does not list")
    missing = c.call("POST", f"/tickets/{project}-999999999/status", body={"status": todo})
    c.expect("unknown ticket", missing, 404, "Error", "POST /tickets/<unknown>/status")
    people = c.call("GET", "/people")
    if c.expect("people", people, 200, "PeoplePage", "GET /people") and people.data["people"]:
        person = people.data["people"][0]["id"]
        assigned = c.call("POST", f"/tickets/{key}/assignee", body={"assignee": person})
        if c.expect("assign", assigned, 200, "Ticket", f"POST /tickets/{key}/assignee"):
            who = (assigned.data.get("assignee") or {}).get("id")
            c.record("assignee", who == person, f"the ticket's assignee is {who!r} (asked for {person!r})")
        cleared = c.call("POST", f"/tickets/{key}/assignee", body={"assignee": None})
        c.expect("unassign", cleared, 200, "Ticket", f"POST /tickets/{key}/assignee null")
    comment = c.call("POST", f"/tickets/{key}/comments", body={"body": "probe comment"})
    c.expect("comment", comment, 201, "Comment", f"POST /tickets/{key}/comments")
    found = c.call("GET", "/search", params={"project": project, "q": draft["title"]})
    if c.expect("search", found, 200, "TicketPage", "GET /search"):
        hit = key in [t.get("key") for t in found.data["tickets"]]
        c.record(
            "search finds",
            hit,
            f"searching the title finds {key}" if hit else f"searching the title misses {key}",
        )
    if "changed_since" in described.data["capabilities"]:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        changes = c.call("GET", "/changes", params={"project": project, "since": since})
        if c.expect("changes", changes, 200, "TicketPage", "GET /changes"):
            hit = key in [t.get("key") for t in changes.data["tickets"]]
            c.record(
                "changes list", hit, f"{key}, changed just now, is listed" if hit else f"{key} is not listed"
            )
    slowest = max(c.timings)
    fast = slowest[0] <= c.slow
    c.record(
        "speed",
        fast,
        f"every answer within {c.slow:g} s (slowest {slowest[1]}, {slowest[0]:.2f} s)"
        if fast
        else f"{slowest[1]} took {slowest[0]:.2f} s; answer within {c.slow:g} s",
    )


def _id() -> str:
    return "chk_" + secrets.token_hex(10)


__all__ = ["Result", "run_checks"]
