"""`/_sandbox` routes of the in-house tracker sandbox: signing secrets, projects, the rate limit.

POST   /_sandbox/api-tokens            {}                  -> 201 {"token"}  (a new whsec_ secret)
DELETE /_sandbox/api-tokens/{token}                        -> 204, or 404 when unknown
POST   /_sandbox/projects              {"key", "name"?}    -> 201 {"key"}
PUT    /_sandbox/ratelimit             {"limit"}           -> {"limit"}
"""

from __future__ import annotations

import re
import sqlite3

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.connectors.inhouse.sandbox.sandbox import InhouseSandbox
from conduit.connectors.sandbox.control import ControlError, control_json, opt, req

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")


def sandbox_of(request: Request) -> InhouseSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, InhouseSandbox)
    return sandbox


async def mint_secret(request: Request) -> Response:
    return JSONResponse({"token": sandbox_of(request).mint_secret()}, 201)


async def revoke_secret(request: Request) -> Response:
    sb = sandbox_of(request)
    token = request.path_params["token"]
    if sb.oauth.authenticate(token) is None or not sb.oauth.revoke(token):
        raise ControlError("no such secret", 404)
    return Response(status_code=204)


async def add_project(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    key = req(data, "key", str).upper()
    if not PROJECT_KEY.match(key):
        raise ControlError("`key` is a letter then letters, digits or _ (at most 50)")
    try:
        sb.add_project(key, opt(data, "name", str) or key)
    except sqlite3.IntegrityError:
        raise ControlError(f"project {key} exists already") from None
    return JSONResponse({"key": key}, 201)


async def ratelimit(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    limit = req(data, "limit", int)
    if limit < 1:
        raise ControlError("`limit` must be at least 1")
    sb.limiter.limit = limit
    return JSONResponse({"limit": limit})


def routes() -> list[BaseRoute]:
    return [
        Route("/api-tokens", mint_secret, methods=["POST"]),
        Route("/api-tokens/{token}", revoke_secret, methods=["DELETE"]),
        Route("/projects", add_project, methods=["POST"]),
        Route("/ratelimit", ratelimit, methods=["PUT"]),
    ]
