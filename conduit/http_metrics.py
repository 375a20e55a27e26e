"""Metrics over HTTP: the middleware that counts and times every request, and the `/metrics` endpoint.

Requests are labelled by the template of the route they matched (`/api/{project_id}/envelope/`), never by
their path, so ids and tokens in URLs never become series; a request no route matched is `<unmatched>`.

`/metrics` answers only with `Authorization: Bearer <CONDUIT_METRICS_TOKEN>`, compared in constant time;
while no token is configured it does not exist (404), so a deployment exposes nothing by default.
"""

from __future__ import annotations

import hmac
import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conduit import metrics

UNMATCHED = "<unmatched>"
# Any other method a client invents is one series, not one per invention.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Counts and times each HTTP request by route template, method and status class."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server error handler outside answers if nothing is sent

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router records the route it matched in the scope it was given, which is this one.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            labels = (route, method, metrics.status_class(status))
            metrics.HTTP_REQUESTS.labels(*labels).inc()
            metrics.HTTP_DURATION.labels(*labels).observe(time.perf_counter() - start)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_endpoint(request: Request) -> Response:
    # A plain function: Starlette runs it in a thread, and merging many processes' files reads disk.
    token = request.app.state.runtime.settings.metrics_token
    if not token:
        return PlainTextResponse("Not Found", status_code=404)
    if not _authorized(request, token):
        return PlainTextResponse(
            "Unauthorized", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


routes = [Route("/metrics", metrics_endpoint, methods=["GET"])]
