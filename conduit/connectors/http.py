"""One road out: every call to a tracker goes through `TrackerHttp.request`.

It sends on one shared httpx client whose every connection passes the private-range guard of
`conduit.egress` (resolved and checked at connect time, then connected to the checked address,
so DNS rebinding cannot reach the operator's network; metadata addresses are refused even where
`allow_private_tracker_urls` lets loopback through). It follows no redirects, reads at most
MAX_REPLY_BYTES of a reply within one overall deadline, times the call, records an Interaction in its
own short transaction (so the record survives a job that fails afterwards), maps failures to
`conduit.connectors.errors`, turns rate-limit answers into `RateLimited` with the delay to wait,
sends `If-None-Match` when a stored copy has an ETag, and on a 401 renews the credentials once and
tries once more.

What a failure says is for tenants to read: the tracker's HTTP status and its own error field, trimmed
to one short line (`error_message`), or what happened to the connection — never a raw body, which a
server at a tenant-named URL fills with whatever it likes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conduit import metrics
from conduit.connectors.catalog import RateLimitHeaders
from conduit.connectors.errors import (
    AddressRefused,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    TrackerError,
    Unauthorized,
    Unavailable,
    one_line,
)
from conduit.db.models import Interaction, InteractionOutcome
from conduit.egress import GuardedTransport, Resolver, UnresolvableHost, WebhookURLError
from conduit.errors import Upstream

log = logging.getLogger("conduit.connectors.http")

DEFAULT_TIMEOUT = 20.0
MAX_ERROR_EXCERPT = 1024
# The tracker's own words in an error, as shown to tenants.
MAX_TRACKER_MESSAGE = 200
# The largest reply read: a page of 100 issues is well under a megabyte.
MAX_REPLY_BYTES = 16 * 1024 * 1024
# A whole call (connect, send, every read) ends after this many times the per-step timeout, so a
# server trickling its reply byte by byte cannot hold a worker.
DEADLINE_FACTOR = 3
PRIVATE_SETTING = "CONDUIT_ALLOW_PRIVATE_TRACKER_URLS"
USER_AGENT = "Conduit (+https://github.com/conduit-hub)"
NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass(frozen=True, slots=True)
class Target:
    """Whom a call is made for: the Interaction is recorded under this installation, and the call is
    counted under its tracker's key."""

    installation_id: int
    organization_id: int
    tracker: str = "unknown"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    data: Any  # the decoded JSON body, or None
    text: str

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Auth(Protocol):
    """Credentials for one installation."""

    async def token(self) -> str | None: ...

    async def renew(self, rejected: str) -> str | None:
        """A fresh token after `rejected` was refused, or None when there is nothing to renew with."""
        ...


Check = Callable[[Reply], TrackerError | None]

# Authenticates one request by signing it instead of sending the credential: given the installation's
# credential and the exact bytes of the body, the headers to add. Signed per attempt, after the body
# is encoded, so the signature covers what goes on the wire.
RequestSigner = Callable[[str, bytes], Mapping[str, str]]


def error_message(reply: Reply) -> str:
    """`HTTP <status>: <the tracker's own words>`, from whichever of the usual error fields it used,
    on one line of at most MAX_TRACKER_MESSAGE characters; just `HTTP <status>` when the body has no
    error field (an HTML page, plain text): the body itself is never quoted."""
    data = reply.data
    parts: list[str] = []
    if isinstance(data, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(data.get(key), str):
                parts.append(data[key])
                break
            if (
                key == "error"
                and isinstance(data.get(key), dict)
                and isinstance(data[key].get("message"), str)
            ):
                # {"error": {"code": ..., "message": ...}}, the in-house tracker contract's shape.
                parts.append(data[key]["message"])
                break
            if key == "message" and isinstance(data.get(key), dict):
                # GitLab's field errors: {"message": {"title": ["can't be blank"]}}
                parts += [f"{k}: {_words(v)}" for k, v in data[key].items()]
                break
        messages = data.get("errorMessages")
        if isinstance(messages, list):
            parts += [str(m) for m in messages]
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
        elif isinstance(errors, list):
            parts += [
                str(e.get("message") or f"{e.get('field')} {e.get('code')}")
                if isinstance(e, dict)
                else str(e)
                for e in errors
            ]
    words = one_line("; ".join(parts), MAX_TRACKER_MESSAGE)
    return f"HTTP {reply.status}: {words}" if words else f"HTTP {reply.status}"


def _words(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _field_errors(data: Any) -> dict[str, str]:
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, dict):
            return {str(k): str(v) for k, v in errors.items()}
        if isinstance(errors, list):
            return {
                str(e.get("field")): str(e.get("message") or e.get("code"))
                for e in errors
                if isinstance(e, dict) and e.get("field")
            }
    return {}


def _seconds_until(value: str, now: float) -> float | None:
    """A reset header: epoch seconds (GitHub) or an ISO timestamp (Jira)."""
    value = value.strip()
    try:
        return float(value) - now
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() - now


def retry_delay(headers: httpx.Headers, limits: RateLimitHeaders) -> float | None:
    """How long the tracker asked us to wait, from Retry-After or the rate-limit reset header."""
    now = time.time()
    retry_after = headers.get(limits.retry_after)
    if retry_after is not None:
        try:
            return max(float(retry_after), 0.0)
        except ValueError:
            try:
                return max(parsedate_to_datetime(retry_after).timestamp() - now, 0.0)
            except (TypeError, ValueError):
                pass
    if limits.reset and headers.get(limits.reset) is not None:
        remaining = headers.get(limits.remaining) if limits.remaining else None
        if remaining is None or remaining.strip() == "0":
            delta = _seconds_until(headers[limits.reset], now)
            if delta is not None:
                return max(delta, 0.0)
    return None


def next_page(reply: Reply) -> str | None:
    """The URL of the next page that a listing's `Link` header names (RFC 8288), if any."""
    match = NEXT_LINK.search(reply.headers.get("link", ""))
    return match.group(1) if match else None


def rate_limited(reply: Reply, limits: RateLimitHeaders) -> bool:
    if reply.status == 429:
        return True
    if reply.status == 403:
        remaining = reply.headers.get(limits.remaining) if limits.remaining else None
        return (remaining is not None and remaining.strip() == "0") or limits.retry_after in reply.headers
    return False


def default_check(limits: RateLimitHeaders) -> Check:
    """Map a reply to the error it means, or None for success."""

    def check(reply: Reply) -> TrackerError | None:
        status = reply.status
        if status < 400:
            return None
        message = error_message(reply)
        if rate_limited(reply, limits):
            delay = retry_delay(reply.headers, limits)
            return RateLimited(message, limits.fallback if delay is None else delay, status=status)
        if status == 401:
            return Unauthorized(message, status=status)
        if status == 403:
            return Forbidden(message, status=status)
        if status in (404, 410):
            return NotFound(message, status=status)
        if status >= 500:
            return Unavailable(message, status=status)
        return InvalidRequest(message, fields=_field_errors(reply.data), status=status)

    return check


def outcome_of(error: TrackerError | None) -> InteractionOutcome:
    if error is None:
        return InteractionOutcome.SUCCESS
    # Refused credentials, missing rights, vanished targets and a refused address are for a person to
    # fix, not a retry.
    if isinstance(error, Unauthorized | Forbidden | NotFound | AddressRefused):
        return InteractionOutcome.HALTED
    return InteractionOutcome.FAILURE


def _decode(content: bytes, text: str, headers: httpx.Headers) -> Any:
    if not content:
        return None
    content_type = headers.get("content-type", "")
    if "json" in content_type:
        try:
            return json.loads(content)
        except (ValueError, RecursionError):
            return None
    if "x-www-form-urlencoded" in content_type:
        return dict(httpx.QueryParams(text))
    return None


class ReplyTooLarge(Upstream):
    """The tracker's reply is over MAX_REPLY_BYTES; `transport_error` words it with the server's name."""

    def __init__(self, message: str = f"the reply is larger than {MAX_REPLY_BYTES} bytes") -> None:
        super().__init__(message)


def transport_error(exc: BaseException, url: str) -> TrackerError:
    """What happened to the connection, in words that name the server and nothing of our internals."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return InvalidRequest("the tracker's URL is not valid")
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    server = host + (f":{parsed.port}" if parsed.port else "")
    if isinstance(exc, httpx.InvalidURL):
        return InvalidRequest(f"the URL to call at {server} is not valid")
    if isinstance(exc, UnresolvableHost):
        return Unavailable(f"{server} does not resolve")
    if isinstance(exc, WebhookURLError):
        return AddressRefused(f"Conduit may not connect there: {exc}")
    if isinstance(exc, ReplyTooLarge):
        return Unavailable(f"{server} answered with more than {MAX_REPLY_BYTES // (1024 * 1024)} MB")
    if isinstance(exc, httpx.ConnectTimeout):
        return Unavailable(f"could not connect to {server}: timed out")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return Unavailable(f"{server} did not answer in time: timed out")
    if isinstance(exc, httpx.ConnectError):
        return Unavailable(f"could not connect to {server}")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return Unavailable(f"the connection to {server} broke off")
    return Unavailable(f"the call to {server} failed ({type(exc).__name__})")


class TrackerHttp:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        timeout: float = DEFAULT_TIMEOUT,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
    ) -> None:
        self.sessions = sessions
        self.timeout = timeout
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(
                allow_private=allow_private, resolver=resolver, limits=limits, setting=PRIVATE_SETTING
            ),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"User-Agent": USER_AGENT},
            # A redirect would lead to a URL nobody checked or configured; trackers' APIs do not need it.
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: Mapping[str, Any] | None,
        json: Any,
        form: Mapping[str, str] | None,
        sign: Callable[[bytes], Mapping[str, str]] | None = None,
    ) -> Reply:
        async with asyncio.timeout(self.timeout * DEADLINE_FACTOR):
            request = self.client.build_request(
                method, url, headers=headers, params=params, json=json, data=form
            )
            if sign is not None:
                request.headers.update(sign(request.content))
            response = await self.client.send(request, stream=True)
            try:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
                    raise ReplyTooLarge
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_REPLY_BYTES:
                        raise ReplyTooLarge
            finally:
                await response.aclose()
        content = bytes(body)
        text = content.decode(response.encoding or "utf-8", errors="replace")
        return Reply(response.status_code, response.headers, _decode(content, text, response.headers), text)

    async def request(
        self,
        target: Target,
        operation: str,
        method: str,
        url: str,
        *,
        template: str,
        limits: RateLimitHeaders,
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        etag: str | None = None,
        check: Check | None = None,
        token_header: tuple[str, str] = ("Authorization", "Bearer "),
        signer: RequestSigner | None = None,
    ) -> Reply:
        """Send one call (and at most one retry after renewing refused credentials).

        The token goes in `token_header`: its name, and what precedes the token in its value; with a
        `signer`, it never leaves: it signs the request instead.

        Returns the reply (a 304 when `etag` still matches) or raises a `TrackerError`.
        """
        check = check or default_check(limits)
        token = await auth.token() if auth is not None else None
        for attempt in (1, 2):
            sent_headers = dict(headers or {})
            sign: Callable[[bytes], Mapping[str, str]] | None = None
            if signer is not None:
                sign = functools.partial(signer, token or "")
            elif token:
                sent_headers[token_header[0]] = token_header[1] + token
            if etag:
                sent_headers["If-None-Match"] = etag
            reply, error = await self._send(
                target, operation, method, url, template, sent_headers, params, json, form, check, sign
            )
            if isinstance(error, Unauthorized) and auth is not None and token and attempt == 1:
                renewed = await auth.renew(token)
                if renewed is not None and renewed != token:
                    token = renewed
                    continue
            if error is not None:
                raise error
            assert reply is not None
            return reply
        raise AssertionError("unreachable")

    async def _send(
        self,
        target: Target,
        operation: str,
        method: str,
        url: str,
        template: str,
        headers: dict[str, str],
        params: Mapping[str, Any] | None,
        json: Any,
        form: Mapping[str, str] | None,
        check: Check,
        sign: Callable[[bytes], Mapping[str, str]] | None = None,
    ) -> tuple[Reply | None, TrackerError | None]:
        started = time.perf_counter()
        reply: Reply | None = None
        error: TrackerError | None
        try:
            reply = await self._exchange(method, url, headers, params, json, form, sign)
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, WebhookURLError, ReplyTooLarge) as exc:
            error = transport_error(exc, url)
        else:
            error = check(reply)
        elapsed = time.perf_counter() - started
        duration_ms = int(elapsed * 1000)
        if error is not None:
            error.operation = operation
        outcome = "rate_limited" if isinstance(error, RateLimited) else outcome_of(error).value
        metrics.TRACKER_CALLS.labels(target.tracker, outcome).inc()
        metrics.TRACKER_CALL_DURATION.labels(target.tracker, outcome).observe(elapsed)
        await self._record(target, operation, method, template, reply, error, duration_ms)
        return reply, error

    async def _record(
        self,
        target: Target,
        operation: str,
        method: str,
        template: str,
        reply: Reply | None,
        error: TrackerError | None,
        duration_ms: int,
    ) -> None:
        remaining: int | None = None
        if reply is not None:
            # GitHub's and Jira's, GitLab's, Linear's request budget.
            for name in ("x-ratelimit-remaining", "ratelimit-remaining", "x-ratelimit-requests-remaining"):
                value = reply.headers.get(name)
                if value is not None and value.strip().isdigit():
                    remaining = int(value)
                    metrics.TRACKER_RATE_LIMIT_REMAINING.labels(target.tracker).set(remaining)
                    break
        row = Interaction(
            organization_id=target.organization_id,
            installation_id=target.installation_id,
            operation=operation,
            method=method,
            path=template[:500],
            http_status=reply.status if reply is not None else None,
            duration_ms=duration_ms,
            outcome=outcome_of(error),
            error=f"{type(error).__name__}: {error.message}"[:MAX_ERROR_EXCERPT] if error else None,
            rate_limit_remaining=remaining,
        )
        try:
            async with self.sessions() as session:
                session.add(row)
                await session.commit()
        except Exception:
            # Losing one log row must never turn a tracker call that worked into a failure.
            log.exception("could not record an interaction for installation %s", target.installation_id)
