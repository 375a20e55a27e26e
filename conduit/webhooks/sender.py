"""Sending one signed delivery attempt and describing what happened, without raising."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from conduit import metrics
from conduit.db.base import utcnow
from conduit.egress import GuardedTransport, UnresolvableHost, WebhookURLError
from conduit.webhooks import signing
from conduit.webhooks.schedule import DEFAULT_TIMEOUT, Outcome, classify, parse_retry_after, validate_timeout

EXCERPT_BYTES = 1024
USER_AGENT = "Conduit-Webhooks/1"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    status: int | None  # None when no response came back
    duration_ms: int
    started_at: datetime
    response_excerpt: str = ""  # the first KB of the body, for the delivery log
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait, if it did

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCESS


def make_client(*, allow_private: bool) -> httpx.AsyncClient:
    """The client every delivery goes through; create one per worker and reuse it.

    Redirects are never followed: the endpoint is the URL that was registered and checked.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private),
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
    )


async def _excerpt(response: httpx.Response) -> str:
    # Read at most the excerpt: a receiver answering with megabytes must not cost us megabytes.
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        buffer += chunk
        if len(buffer) >= EXCERPT_BYTES:
            break
    return bytes(buffer[:EXCERPT_BYTES]).decode("utf-8", errors="replace")


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"no response within {timeout:g} s"
    if isinstance(exc, UnresolvableHost):
        return str(exc)
    if isinstance(exc, WebhookURLError):
        return f"refused: {exc}"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {exc or type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _observe(outcome: Outcome, start: float) -> None:
    metrics.WEBHOOK_ATTEMPTS.labels(outcome.value).inc()
    metrics.WEBHOOK_ATTEMPT_DURATION.labels(outcome.value).observe(time.perf_counter() - start)


async def send(
    client: httpx.AsyncClient,
    url: str,
    msg_id: str,
    body: bytes,
    secrets: Sequence[str | bytes],
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT,
) -> AttemptResult:
    """POST one delivery, signed with every current secret, and classify the answer.

    `timeout_seconds` bounds the whole attempt (connect, send, wait, read), not each step separately, so a
    receiver that trickles its answer cannot hold a worker longer than it allows.
    """
    timeout = validate_timeout(timeout_seconds)
    headers = {"content-type": "application/json", **signing.headers(msg_id, body, secrets)}
    started_at = utcnow()
    start = time.perf_counter()

    def elapsed_ms() -> int:
        return round((time.perf_counter() - start) * 1000)

    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                "POST", url, content=body, headers=headers, timeout=timeout, follow_redirects=False
            ) as response:
                excerpt = await _excerpt(response)
    except (httpx.HTTPError, TimeoutError, WebhookURLError) as exc:
        _observe(classify(None), start)
        return AttemptResult(classify(None), None, elapsed_ms(), started_at, error=_describe(exc, timeout))
    outcome = classify(response.status_code)
    _observe(outcome, start)
    error = None
    if outcome is not Outcome.SUCCESS:
        error = f"HTTP {response.status_code}"
        if response.is_redirect:
            error += f": redirect to {response.headers.get('location', '?')} not followed"
    return AttemptResult(
        outcome,
        response.status_code,
        elapsed_ms(),
        started_at,
        response_excerpt=excerpt,
        error=error,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )
