"""The tracker-neutral `/_sandbox` controls: a person at the tracker, and the tracker sending a webhook.

Every sandbox answers these under the same paths with the same bodies, so tests drive any tracker
the same way; each tracker maps them onto its own operations (closing a GitHub issue, moving a Jira
issue to a done status), which send the same webhooks as a change made through the API.

    POST /_sandbox/people           {"name", "email", "email_shown": true}   -> 201 {"account"}
    POST /_sandbox/tickets/close    {"key", "user"?}                         -> {"ticket", "deliveries"}
    POST /_sandbox/tickets/reopen   {"key", "user"?}                         -> {"ticket", "deliveries"}
    POST /_sandbox/tickets/comment  {"key", "text", "user"?}                 -> {"ticket", "deliveries"}
    POST /_sandbox/tickets/assign   {"key", "account": str | null, "user"?}  -> {"ticket", "deliveries"}
    POST /_sandbox/tickets/delete   {"key", "user"?}                         -> {"ticket", "deliveries"}
    POST /_sandbox/tickets/move     {"key", "scope", "user"?}         -> {"key", "ticket", "deliveries"}
    POST /_sandbox/webhooks/send    {"delivery", "body"?, "body_base64"?, "keep_signature"?, "signature"?,
                                     "guid"?, "url"?}
                                             -> {"status", "body", "content_type", "headers"}

`user` is who acts (the sandbox's own person by default, never the OAuth user, so a person's change
is not mistaken for one the integration made); `account` is an id `POST /people` returned. `send`
signs a recorded delivery afresh and posts it now: `signature` is "genuine" (as the tracker signs),
"forged" (the tracker's scheme with a secret nobody configured) or "none"; `body` (text) or
`body_base64` (any bytes) replaces the delivery's body, then signed as it is — or, with
`keep_signature`, sent under the signature of the recorded body (a body altered in transit).
`guid` replaces its delivery id, `url` where it goes. The answer is the receiver's: its status, body
and content type.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.connectors.sandbox.control import ControlError, control_json, opt, req

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox

# What a forger signs with: the tracker's scheme, a secret no installation was given.
FORGED_SECRET = "forged-" + "x" * 40
SIGNATURES = ("genuine", "forged", "none")
SEND_TIMEOUT = 10.0

Act = Callable[["Sandbox", str, str, dict[str, Any]], None]


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


async def add_person(request: Request) -> Response:
    sb, data = _sandbox(request), await control_json(request)
    with sb.lock:
        account = sb.add_person(
            req(data, "name", str), req(data, "email", str), bool(opt(data, "email_shown", bool, True))
        )
    return JSONResponse({"account": account}, 201)


def _act(action: Act) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sb, data = _sandbox(request), await control_json(request)
        actor = opt(data, "user", str) or sb.human
        if not sb.knows_user(actor):
            raise ControlError(f"unknown user {actor!r}")
        key = req(data, "key", str)
        with sb.lock:
            first = len(sb.outbox.deliveries)
            action(sb, key, actor, data)
            caused = [d.id for d in sb.outbox.list()[first:]]
            return JSONResponse({"ticket": sb.ticket_json(key), "deliveries": caused})

    return endpoint


def _close(sb: Sandbox, key: str, actor: str, data: dict[str, Any]) -> None:
    sb.close_ticket(key, actor)


def _reopen(sb: Sandbox, key: str, actor: str, data: dict[str, Any]) -> None:
    sb.reopen_ticket(key, actor)


def _comment(sb: Sandbox, key: str, actor: str, data: dict[str, Any]) -> None:
    sb.comment_ticket(key, actor, req(data, "text", str))


def _assign(sb: Sandbox, key: str, actor: str, data: dict[str, Any]) -> None:
    if "account" not in data:
        raise ControlError("`account` is required (null unassigns)")
    account = opt(data, "account", str)
    if account is not None and not sb.knows_user(account):
        raise ControlError(f"unknown account {account!r}")
    sb.assign_ticket(key, actor, account)


def _delete(sb: Sandbox, key: str, actor: str, data: dict[str, Any]) -> None:
    sb.delete_ticket(key, actor)


async def move(request: Request) -> Response:
    """Move a ticket to another scope; answers with its new key (a tracker without moves refuses)."""
    sb, data = _sandbox(request), await control_json(request)
    actor = opt(data, "user", str) or sb.human
    if not sb.knows_user(actor):
        raise ControlError(f"unknown user {actor!r}")
    with sb.lock:
        first = len(sb.outbox.deliveries)
        key = sb.move_ticket(req(data, "key", str), actor, req(data, "scope", str))
        caused = [d.id for d in sb.outbox.list()[first:]]
        return JSONResponse({"key": key, "ticket": sb.ticket_json(key), "deliveries": caused})


async def send_webhook(request: Request) -> Response:
    sb, data = _sandbox(request), await control_json(request)
    original = sb.outbox.deliveries.get(req(data, "delivery", int))
    if original is None:
        raise ControlError("no such delivery", 404)
    signature = opt(data, "signature", str, "genuine")
    if signature not in SIGNATURES:
        raise ControlError(f"`signature` must be one of {', '.join(SIGNATURES)}")
    body = original.body
    if data.get("body") is not None:
        body = req(data, "body", str).encode()
    elif data.get("body_base64") is not None:
        try:
            body = base64.b64decode(req(data, "body_base64", str), validate=True)
        except ValueError:
            raise ControlError("`body_base64` is not base64") from None
    delivery = dataclasses.replace(
        original,
        body=body,
        guid=opt(data, "guid", str) or original.guid,
    )
    signed = (
        dataclasses.replace(original, guid=delivery.guid) if opt(data, "keep_signature", bool) else delivery
    )
    headers = delivery.signer(signed, 0, FORGED_SECRET if signature == "forged" else None)
    if signature == "none":
        dropped = {h.lower() for h in sb.signature_headers}
        headers = {k: v for k, v in headers.items() if k.lower() not in dropped}
    url = opt(data, "url", str) or sb.outbox.rewrite_to or original.url
    async with httpx.AsyncClient(timeout=SEND_TIMEOUT) as client:
        reply = await client.post(url, content=delivery.body, headers=headers)
    try:
        answer: Any = reply.json()
    except ValueError:
        answer = reply.text
    content_type = reply.headers.get("content-type")
    return JSONResponse(
        {"status": reply.status_code, "body": answer, "content_type": content_type, "headers": headers}
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/people", add_person, methods=["POST"]),
        Route("/tickets/close", _act(_close), methods=["POST"]),
        Route("/tickets/reopen", _act(_reopen), methods=["POST"]),
        Route("/tickets/comment", _act(_comment), methods=["POST"]),
        Route("/tickets/assign", _act(_assign), methods=["POST"]),
        Route("/tickets/delete", _act(_delete), methods=["POST"]),
        Route("/tickets/move", move, methods=["POST"]),
        Route("/webhooks/send", send_webhook, methods=["POST"]),
    ]
