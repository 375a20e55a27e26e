"""`POST /oauth/token`: the token endpoint apps call (RFC 6749 §3.2), form-encoded.

Grants: `authorization_code` (an installation's grant code), `refresh_token`, and
`client_credentials` for internal apps. Clients authenticate with HTTP Basic or with `client_id` and
`client_secret` in the body, not both. Errors follow §5.2: `{"error", "error_description"}`.

The endpoint is unauthenticated until the body is read, so the body goes through the shared bounded
reader: at most `MAX_BODY` bytes are held and a slow body is cut off (413 / 408, still in §5.2's shape).
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit import request_body
from conduit.apps import tokens as app_tokens
from conduit.apps.tokens import OAuthError
from conduit.runtime import Runtime

log = logging.getLogger("conduit.auth.oauth")
MAX_BODY = 16 * 1024
FORM = "application/x-www-form-urlencoded"
GRANTS = ("authorization_code", "refresh_token", "client_credentials")


def _no_store(
    body: dict[str, object], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    response = JSONResponse(body, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _error(exc: OAuthError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="conduit"'} if exc.status == 401 else {}
    return _no_store({"error": exc.code, "error_description": exc.description}, exc.status, headers)


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise OAuthError(
            "invalid_client", "Authorization must be `Basic base64(client_id:client_secret)`", 401
        )
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "the Basic credentials are not valid base64", 401) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "the Basic credentials lack the `:` between id and secret", 401)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return unquote(client_id), unquote(secret)


async def _form(request: Request, deadline: float) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise OAuthError("invalid_request", f"send the parameters as {FORM}")
    try:
        body = await request_body.read_body(request, MAX_BODY, deadline=deadline)
    except request_body.ClientGone:
        raise
    except request_body.BodyError as exc:
        raise OAuthError("invalid_request", exc.message, exc.status) from None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not valid UTF-8 form data") from None
    values: dict[str, str] = {}
    for key, value in pairs:
        # §3.2: parameters must not be included more than once.
        if key in values:
            raise OAuthError("invalid_request", f"`{key}` must be given exactly once")
        values[key] = value
    return values


def _require(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"`{name}` is required for this grant_type")
    return value


def token_endpoint(runtime: Runtime) -> Route:
    async def token(request: Request) -> Response:
        header = request.headers.get("authorization")
        try:
            form = await _form(request, runtime.settings.http_body_timeout)
            grant_type = form.get("grant_type", "")
            if not grant_type:
                raise OAuthError("invalid_request", "`grant_type` is required")
            if grant_type not in GRANTS:
                raise OAuthError(
                    "unsupported_grant_type",
                    f"grant_type {grant_type!r} is not supported; use one of {', '.join(GRANTS)}",
                )
            if header and ("client_id" in form or "client_secret" in form):
                raise OAuthError(
                    "invalid_request", "authenticate with Basic or with body parameters, not both"
                )
            if header:
                client_id, client_secret = _basic(header)
            else:
                client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
                if not client_id or not client_secret:
                    raise OAuthError(
                        "invalid_client",
                        "client authentication is required (Basic, or client_id and secret)",
                        401,
                    )
            async with runtime.sessions() as session:
                app = await app_tokens.authenticate_client(session, client_id, client_secret)
                if grant_type == "authorization_code":
                    pair = await app_tokens.exchange_code(session, runtime, app, _require(form, "code"))
                elif grant_type == "refresh_token":
                    pair = await app_tokens.refresh(session, runtime, app, _require(form, "refresh_token"))
                else:
                    pair = await app_tokens.client_credentials(session, runtime, app)
        except OAuthError as exc:
            return _error(exc)
        except request_body.ClientGone as exc:
            # Nobody is left to read an answer. Not a fault of the server, so not logged as one.
            log.debug("POST /oauth/token: %s", exc.message)
            return Response(status_code=exc.status)
        return _no_store(pair.response())

    return Route("/oauth/token", token, methods=["POST"])


def routes(runtime: Runtime) -> list[BaseRoute]:
    return [token_endpoint(runtime)]
