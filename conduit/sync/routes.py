"""HTTP endpoints trackers and browsers call: the OAuth callback and the webhook receiver.

`POST /hooks/{provider}/{hook_token}` answers:
- 202 `{"status": "queued" | "duplicate" | "ignored"}` for a verified delivery;
- 401 `{"error": "the delivery is not verified: unknown hook URL, or missing or invalid signature"}`,
  the same status and the same bytes for an unknown token, a token of another provider, an
  installation not set up yet, and a missing or bad signature, so the URL space tells an
  unauthenticated caller nothing;
- 400 `{"error": ...}` for a verified delivery whose body is malformed (it names what is wrong);
- 413 / 408 / 400 `{"error": ...}` for a body over `MAX_WEBHOOK_BYTES`, too slow, or with a bad
  `Content-Length`, decided before any database lookup (see `conduit.request_body`).
"""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

# Importing the job kinds registers them in every process that serves these routes.
import conduit.sync.jobs  # noqa: F401
from conduit import request_body
from conduit.connectors.registry import PROVIDERS
from conduit.runtime import Runtime
from conduit.sync import inbound, install

log = logging.getLogger("conduit.sync.routes")
# Tracker payloads are a few kilobytes; trackers cap theirs at tens of MB, far beyond any issue event.
MAX_WEBHOOK_BYTES = 1024 * 1024


def _runtime(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


def _page(request: Request, status: int, title: str, message: str) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"status": "accepted" if status < 400 else "error", "message": message}, status)
    body = (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status)


async def oauth_callback(request: Request) -> Response:
    provider_key = request.path_params["provider"]
    if provider_key not in PROVIDERS:
        return _page(request, 404, "Unknown tracker", f"Conduit has no tracker called {provider_key!r}.")
    state = request.query_params.get("state")
    if not state:
        return _page(
            request, 400, "Installation failed", "The tracker sent no state; start the installation again."
        )
    name = PROVIDERS[provider_key].name
    try:
        installation = await install.accept_callback(
            _runtime(request),
            provider_key,
            state,
            request.query_params.get("code"),
            request.query_params.get("error"),
        )
    except install.InstallError as exc:
        return _page(request, 400, "Installation failed", str(exc))
    if installation.status_reason:
        return _page(request, 400, "Installation failed", installation.status_reason)
    return _page(
        request,
        202,
        f"Connecting {name}",
        f"{name} authorized Conduit. Conduit is now finishing the set-up (exchanging the code, finding the "
        f"account); the installation turns ACTIVE within seconds, or ERROR with the reason and what to do. "
        f"You can close this page.",
    )


async def webhook(request: Request) -> Response:
    # The body is read (bounded, with a deadline) before anything touches the database: an
    # unauthenticated caller costs at most MAX_WEBHOOK_BYTES and http_body_timeout seconds.
    runtime = _runtime(request)
    try:
        body = await request_body.read_body(
            request, MAX_WEBHOOK_BYTES, deadline=runtime.settings.http_body_timeout
        )
    except request_body.ClientGone:
        return Response(status_code=400)  # nobody is left to read an explanation
    except request_body.BodyError as exc:
        return JSONResponse({"error": exc.message}, exc.status)
    provider_key = request.path_params["provider"]
    try:
        result = await inbound.receive(
            runtime, provider_key, request.path_params["hook_token"], dict(request.headers), body
        )
    except inbound.Unverified as exc:
        log.info("%s webhook not verified: %s", provider_key if provider_key in PROVIDERS else "unknown", exc)
        return JSONResponse({"error": inbound.UNVERIFIED}, 401)
    except inbound.Refused as exc:
        log.info("%s webhook refused: %s", provider_key, exc)
        return JSONResponse({"error": str(exc)}, exc.status)
    return JSONResponse({"status": result}, 202)


routes: list[BaseRoute] = [
    Route("/oauth/{provider}/callback", oauth_callback, methods=["GET"]),
    Route("/hooks/{provider}/{hook_token}", webhook, methods=["POST"]),
]
