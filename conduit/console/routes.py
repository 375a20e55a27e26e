"""Signing in to the console over HTTP: the session cookie's endpoints.

    POST /console/sign-in           {"email", "password", "organization"?} → 200 the session, and the cookie
    GET  /console/sign-in/{token}   a one-time link → 303 to `/`, and the cookie
    POST /console/sign-out          (X-Conduit-CSRF) → 204, the session revoked and the cookie cleared
    GET  /console/session           → 200 who is signed in, or 401

Errors are `{"error": "..."}`. The session's JSON is `{"member": {"id", "email", "name", "role"},
"organization": {"id", "name", "slug"}, "scopes": [...], "csrfToken"}`, the token the console sends in
`X-Conduit-CSRF` with every write (conduit.auth.sessions). The cookie, `conduit_session`, is HttpOnly,
SameSite=Lax, Path=/, and Secure unless `CONDUIT_COOKIE_SECURE` or plain local http says otherwise.

Password sign-in only accepts `application/json`, which a cross-site page cannot send without a CORS
preflight nobody answers; it is throttled per account and per client address (conduit.auth.throttle),
and answers one 401 for an unknown email and a wrong password.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from conduit import ids, request_body
from conduit.auth import members, sessions, throttle
from conduit.auth.sessions import SignedIn
from conduit.db.models import Member, Organization
from conduit.request_body import BodyError
from conduit.runtime import Runtime
from conduit.settings import Settings

log = logging.getLogger("conduit.console")

MAX_BODY = 8 * 1024
LINK_USED = "This sign-in link has expired or was already used"
_LINK_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Sign-in link</title>"
    '<meta name=viewport content="width=device-width">'
    "<body><main><h1>{message}</h1><p>Ask an admin for a new link, or "
    '<a href="/">sign in with your password</a>.</p></main></body></html>'
)


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    response = JSONResponse(body, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return _json({"error": message}, status, headers)


def session_json(member: Member, organization: Organization, csrf_token: str) -> dict[str, Any]:
    return {
        "member": {
            "id": ids.encode("Member", member.id),
            "email": member.email,
            "name": member.name,
            "role": member.role.value,
        },
        "organization": {
            "id": ids.encode("Organization", organization.id),
            "name": organization.name,
            "slug": organization.slug,
        },
        "scopes": list(members.scopes_for(member.role)),
        "csrfToken": csrf_token,
    }


def cookie_secure(settings: Settings, request: Request) -> bool:
    if isinstance(settings.cookie_secure, bool):
        return settings.cookie_secure
    if request.url.scheme != "http":
        return True
    return settings.is_production and not sessions.is_loopback(request.url.hostname or "")


def _set_cookie(response: Response, settings: Settings, request: Request, value: str) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        value,
        max_age=int(sessions.ABSOLUTE_TIMEOUT.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings, request),
    )


def _clear_cookie(response: Response, settings: Settings, request: Request) -> None:
    response.delete_cookie(
        sessions.COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings, request),
    )


def _own_origins(settings: Settings, request: Request) -> list[str]:
    return sessions.request_origins(request.url.scheme, request.headers.get("host"), settings.public_url)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _is_json(content_type: str | None) -> bool:
    media_type, _, _ = (content_type or "").partition(";")
    return media_type.strip().lower() == "application/json"


class _BadInput(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _credentials(body: bytes) -> tuple[str, str, str | None]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _BadInput(400, 'the body must be JSON: {"email", "password", "organization"?}') from None
    if not isinstance(data, dict):
        raise _BadInput(400, 'the body must be a JSON object: {"email", "password", "organization"?}')
    email, password, organization = data.get("email"), data.get("password"), data.get("organization")
    if not isinstance(email, str) or not isinstance(password, str):
        raise _BadInput(400, "`email` and `password` must be strings")
    if organization is not None and not isinstance(organization, str):
        raise _BadInput(400, "`organization` must be an organization's slug (a string)")
    if len(email) > members.MAX_EMAIL:
        raise _BadInput(400, f"`email` may have at most {members.MAX_EMAIL} characters")
    if len(password) > members.passwords.MAX_LENGTH:
        raise _BadInput(400, f"`password` may have at most {members.passwords.MAX_LENGTH} characters")
    if organization is not None and len(organization) > members.MAX_SLUG:
        raise _BadInput(400, f"`organization` may have at most {members.MAX_SLUG} characters")
    if "\x00" in email + password + (organization or ""):
        raise _BadInput(400, "the credentials may not contain NUL characters")
    return email, password, organization or None


def routes(runtime: Runtime) -> list[BaseRoute]:
    settings = runtime.settings

    async def start_session(request: Request, member: Member) -> tuple[SignedIn, str]:
        async with runtime.sessions() as session:
            row, value = await sessions.start(session, member, request.headers.get("user-agent"))
            org = await session.get(Organization, member.organization_id)
        assert org is not None
        return SignedIn(row, member, org), value

    async def sign_in(request: Request) -> Response:
        if not _is_json(request.headers.get("content-type")):
            return _error(415, "send the credentials as application/json")
        if not sessions.origin_allowed(
            request.headers.get("origin"), request.headers.get("referer"), _own_origins(settings, request)
        ):
            return _error(403, "sign in from this server's own pages")
        try:
            body = await request_body.read_body(request, MAX_BODY, deadline=settings.http_body_timeout)
            email, password, organization = _credentials(body)
        except BodyError as exc:
            return _error(exc.status, exc.message)
        except _BadInput as exc:
            return _error(exc.status, exc.message)
        checks = throttle.limits(email, organization, _client_address(request))
        async with runtime.sessions() as session:
            wait = await throttle.retry_after(session, checks)
            if wait is not None:
                return _error(
                    429, f"too many failed sign-ins: try again in {wait} seconds", {"Retry-After": str(wait)}
                )
            try:
                member = await members.password_sign_in(session, email, password, organization)
            except members.SignInFailed as exc:
                await throttle.record_failure(session, checks)
                return _error(401, exc.message)
            except members.OrganizationNeeded as exc:
                body_out = {
                    "error": "this email signs in to several organizations: say which in `organization`",
                    "organizations": [{"slug": o.slug, "name": o.name} for o in exc.organizations],
                }
                return _json(body_out, 400)
            await throttle.clear(session, checks[0])
        signed, value = await start_session(request, member)
        response = _json(session_json(signed.member, signed.organization, signed.session.csrf_token))
        _set_cookie(response, settings, request, value)
        return response

    async def sign_in_link(request: Request) -> Response:
        if request.method == "HEAD":
            # Link previews and scanners ask HEAD first: only the GET of a person spends the link.
            return Response(status_code=200, headers={"Cache-Control": "no-store"}, media_type="text/html")
        async with runtime.sessions() as session:
            member = await members.redeem_link(session, request.path_params["token"])
        if member is None:
            page = _LINK_PAGE.format(message=html.escape(LINK_USED))
            return HTMLResponse(
                page, 400, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
            )
        _, value = await start_session(request, member)
        response = RedirectResponse(
            "/", 303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        )
        _set_cookie(response, settings, request, value)
        return response

    async def current(request: Request) -> tuple[SignedIn | None, Response | None]:
        cookie = request.cookies.get(sessions.COOKIE_NAME)
        signed = None
        if cookie:
            async with runtime.sessions() as session:
                signed = await sessions.lookup(session, cookie)
        if signed is not None:
            return signed, None
        response = _error(401, "not signed in: sign in with a password or a sign-in link")
        if cookie:
            _clear_cookie(response, settings, request)
        return None, response

    async def sign_out(request: Request) -> Response:
        signed, refused = await current(request)
        if signed is None:
            assert refused is not None
            return refused
        reason = sessions.refusal(
            signed.session,
            method=request.method,
            websocket=False,
            csrf=request.headers.get(sessions.CSRF_HEADER),
            origin=request.headers.get("origin"),
            referer=request.headers.get("referer"),
            own_origins=_own_origins(settings, request),
        )
        if reason is not None:
            return _error(403, reason)
        async with runtime.sessions() as session:
            row = await session.merge(signed.session)
            await sessions.revoke(session, row)
        response = Response(status_code=204, headers={"Cache-Control": "no-store"})
        _clear_cookie(response, settings, request)
        return response

    async def session_info(request: Request) -> Response:
        signed, refused = await current(request)
        if signed is None:
            assert refused is not None
            return refused
        return _json(session_json(signed.member, signed.organization, signed.session.csrf_token))

    return [
        Route("/console/sign-in", sign_in, methods=["POST"]),
        Route("/console/sign-in/{token}", sign_in_link, methods=["GET"]),
        Route("/console/sign-out", sign_out, methods=["POST"]),
        Route("/console/session", session_info, methods=["GET"]),
    ]
