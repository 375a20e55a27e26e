"""The per-request GraphQL context: who is asking, and DataLoaders made fresh for this request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import strawberry
from starlette.requests import HTTPConnection

from conduit.auth.bearer import Viewer, authenticate, bearer_value
from conduit.runtime import Runtime
from conduit.schema.loaders import Loaders


class Unauthenticated(Exception):
    """No valid bearer token: answered with 401 by the HTTP layer."""


@dataclass
class Context:
    runtime: Runtime
    viewer: Viewer
    loaders: Loaders
    request: HTTPConnection | None = None
    extras: dict[str, Any] = field(default_factory=dict)


Info: TypeAlias = strawberry.Info[Context, None]


async def build_context(runtime: Runtime, request: HTTPConnection) -> Context:
    value = bearer_value(request.headers.get("authorization"))
    if value is None:
        raise Unauthenticated("an API token is required: send `Authorization: Bearer <token>`")
    async with runtime.sessions() as session:
        viewer = await authenticate(session, value)
    if viewer is None:
        raise Unauthenticated("the API token is invalid or has been revoked")
    return context_for(runtime, viewer, request)


def context_for(runtime: Runtime, viewer: Viewer, request: HTTPConnection | None = None) -> Context:
    return Context(runtime, viewer, Loaders(runtime.sessions, viewer.organization_id), request)
