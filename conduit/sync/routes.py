"""HTTP endpoints trackers and browsers call: the OAuth callback and the webhook receiver."""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

# Importing the job kinds registers them in every process that serves these routes.
import conduit.jobs.tasks.sync  # noqa: F401
from conduit.connectors.catalog import PROVIDERS
from conduit.runtime import Runtime
from conduit.sync import inbound, install

log = logging.getLogger("conduit.sync.routes")
# Tracker payloads are a few kilobytes; GitHub caps them at 25 MB, far beyond any issue event.
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
    provider_key = request.path_params["provider"]
    try:
        installation_id = int(request.path_params["installation_id"])
    except ValueError:
        return JSONResponse({"error": "unknown installation"}, 404)
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        return JSONResponse({"error": "payload too large"}, 413)
    try:
        result = await inbound.receive(
            _runtime(request), provider_key, installation_id, dict(request.headers), body
        )
    except inbound.Unknown:
        return JSONResponse({"error": "unknown installation"}, 404)
    except inbound.Refused as exc:
        log.info("webhook for installation %s refused: %s", installation_id, exc)
        return JSONResponse({"error": str(exc)}, exc.status)
    return JSONResponse({"status": result}, 202)


routes: list[BaseRoute] = [
    Route("/oauth/{provider}/callback", oauth_callback, methods=["GET"]),
    Route("/hooks/{provider}/{installation_id}", webhook, methods=["POST"]),
]
