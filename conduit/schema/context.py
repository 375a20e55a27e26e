"""The per-request GraphQL context: who is asking, its reads (conduit.schema.reads), and DataLoaders
made fresh for this request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import strawberry
from starlette.requests import HTTPConnection

from conduit.auth import members, sessions
from conduit.auth.bearer import Viewer, bearer_value, viewer_of
from conduit.runtime import Runtime
from conduit.schema.loaders import Loaders
from conduit.schema.reads import SLOTS, Reads


class Unauthenticated(Exception):
    """No valid bearer token or session: answered with 401 by the HTTP layer."""


class CrossSiteRefused(Exception):
    """A session cookie without the proof that the console sent the request: answered with 403."""


@dataclass
class Context:
    runtime: Runtime
    viewer: Viewer
    reads: Reads
    loaders: Loaders
    request: HTTPConnection | None = None
    extras: dict[str, Any] = field(default_factory=dict)


Info: TypeAlias = strawberry.Info[Context, None]


async def build_context(runtime: Runtime, request: HTTPConnection) -> Context:
    """A bearer token when `Authorization` is sent; else the console's session cookie."""
    header = request.headers.get("authorization")
    if header is None and (cookie := request.cookies.get(sessions.COOKIE_NAME)):
        return context_for(runtime, await session_viewer(runtime, request, cookie), request)
    value = bearer_value(header)
    if value is None:
        raise Unauthenticated("an API token is required: send `Authorization: Bearer <token>`")
    viewer = await viewer_of(runtime, value)
    if viewer is None:
        raise Unauthenticated("the API token is invalid or has been revoked")
    return context_for(runtime, viewer, request)


def context_for(runtime: Runtime, viewer: Viewer, request: HTTPConnection | None = None) -> Context:
    # Only an HTTP request has an end at which its shared session is closed (by the view).
    shareable = request is not None and request.scope["type"] == "http"
    reads = Reads(runtime.sessions, runtime.get(SLOTS) if shareable else None)
    return Context(runtime, viewer, reads, Loaders(reads, viewer.organization_id), request)


async def session_viewer(runtime: Runtime, request: HTTPConnection, cookie: str) -> Viewer:
    """The member a session cookie signs in, checked for cross-site use (conduit.auth.sessions)."""
    async with runtime.sessions() as session:
        signed = await sessions.lookup(session, cookie)
    if signed is None:
        raise Unauthenticated("the console session has ended: sign in again")
    websocket = request.scope["type"] == "websocket"
    reason = sessions.refusal(
        signed.session,
        method="GET" if websocket else request.scope.get("method", "GET"),
        websocket=websocket,
        csrf=request.headers.get(sessions.CSRF_HEADER),
        origin=request.headers.get("origin"),
        referer=request.headers.get("referer"),
        own_origins=sessions.request_origins(
            request.url.scheme, request.headers.get("host"), runtime.settings.public_url
        ),
    )
    if reason is not None:
        raise CrossSiteRefused(reason)
    member = signed.member
    return Viewer(
        organization_id=member.organization_id,
        token_id=None,
        scopes=members.scopes_for(member.role),
        member_id=member.id,
        session_id=signed.session.id,
    )
