"""Sentry-compatible ingest endpoints: ``/api/{project_id}/envelope/`` and ``/api/{project_id}/store/``.

Responses follow Sentry's relay: ``{"id": "<event_id>"}`` on success, ``{"detail": "..."}`` with the
same text in ``X-Sentry-Error`` on refusal. Browser SDKs post cross-origin, hence the CORS headers.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit import metrics
from conduit.db.base import utcnow
from conduit.ingest import envelope as envelope_format
from conduit.ingest import quota, store
from conduit.ingest.auth import (
    MISSING,
    key_from_dsn,
    key_from_request,
    owner_of,
    parse_project_id,
)
from conduit.ingest.body import read_limited
from conduit.ingest.decompress import decode, legacy_store_body
from conduit.ingest.errors import BadRequest, ClientGone, IngestError, Unauthorized
from conduit.ingest.jsonbody import parse_object
from conduit.ingest.normalize import normalize, normalize_event_id
from conduit.runtime import Runtime

log = logging.getLogger("conduit.ingest")
# Only these become issues; sessions, transactions, attachments, client reports... are accepted and dropped.
EVENT_ITEM_TYPES = frozenset({"event"})
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "x-sentry-error, x-sentry-rate-limits, retry-after",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "x-sentry-auth, x-requested-with, origin, accept, content-type, content-encoding, "
        "authentication, authorization, sentry-trace, baggage"
    ),
    "Access-Control-Max-Age": "3600",
}


def _event_item(env: envelope_format.Envelope) -> envelope_format.Item | None:
    events = [item for item in env.items if item.type in EVENT_ITEM_TYPES]
    if len(events) > 1:
        raise BadRequest(f"envelope has {len(events)} event items; at most one is allowed")
    return events[0] if events else None


async def _read(request: Request, runtime: Runtime) -> bytes:
    settings = runtime.settings
    raw = await read_limited(
        request, settings.ingest_max_compressed_bytes, deadline=settings.http_body_timeout
    )
    return decode(raw, request.headers.get("content-encoding"), settings.ingest_max_decompressed_bytes)


async def _ingest(request: Request, *, is_envelope: bool) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    project_id = parse_project_id(request.path_params["project_id"])
    key = key_from_request(request.headers, request.query_params)
    # Checked before the body is read when possible, so an unauthenticated client cannot make us inflate.
    owner = await owner_of(runtime, project_id, key) if key else None
    body = await _read(request, runtime)
    header_event_id: str | None = None
    if is_envelope:
        env = envelope_format.parse(body)
        header_event_id = normalize_event_id(env.headers.get("event_id"))
        if owner is None:
            owner = await owner_of(runtime, project_id, key_from_dsn(env.headers.get("dsn")))
        item = _event_item(env)
        if item is None:
            return {"id": header_event_id} if header_event_id else {}
        payload = parse_object(item.payload, "event payload")
    else:
        if owner is None:
            raise Unauthorized(MISSING)
        limit = runtime.settings.ingest_max_decompressed_bytes
        payload = parse_object(legacy_store_body(body, limit), "event payload")
    event = normalize(payload, utcnow(), fallback_event_id=header_event_id)
    await quota.check(runtime, owner)
    # Answered once the event is committed: an SDK that got its 200 never has to send it again.
    stored = await store.store(runtime, owner, event)
    if stored.stored:
        metrics.EVENTS_INGESTED.inc()
    else:
        metrics.EVENTS_DROPPED.labels("duplicate").inc()
    return {"id": event.event_id}


def _header_safe(text: str) -> str:
    # Details can quote client input; a header must stay printable ASCII on one line.
    return "".join(c if " " <= c <= "~" else "?" for c in text[:200])


async def _respond(request: Request, *, is_envelope: bool) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=200, headers=PREFLIGHT_HEADERS)
    try:
        result = await _ingest(request, is_envelope=is_envelope)
    except ClientGone as exc:
        metrics.EVENTS_DROPPED.labels(exc.reason).inc()
        # Nobody is left to read an answer. Not a fault of the server, so not logged as one.
        log.debug("%s %s: %s", request.method, request.url.path, exc.detail)
        return Response(status_code=exc.status_code, headers=CORS_HEADERS)
    except IngestError as exc:
        metrics.EVENTS_DROPPED.labels(exc.reason).inc()
        headers = {**CORS_HEADERS, **exc.headers, "X-Sentry-Error": _header_safe(exc.detail)}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    except Exception:
        metrics.EVENTS_DROPPED.labels("internal_error").inc()
        raise
    return JSONResponse(result, headers=CORS_HEADERS)


async def envelope_endpoint(request: Request) -> Response:
    return await _respond(request, is_envelope=True)


async def store_endpoint(request: Request) -> Response:
    return await _respond(request, is_envelope=False)


_METHODS = ["POST", "OPTIONS"]
routes: list[BaseRoute] = [
    Route(path, endpoint, methods=_METHODS)
    for base, endpoint in (("envelope", envelope_endpoint), ("store", store_endpoint))
    for path in (f"/api/{{project_id}}/{base}/", f"/api/{{project_id}}/{base}")
]
