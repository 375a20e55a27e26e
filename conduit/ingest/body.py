"""Reading an ingest body through the shared bounded reader, answered in Sentry's error shape.

`conduit.request_body.read_body` keeps the invariant (declared length checked before reading, stream
counted, deadline on the whole read); this module only translates its refusals into ingest errors, so
an SDK sees `{"detail"}` and `X-Sentry-Error` like every other ingest refusal.
"""

from __future__ import annotations

from starlette.requests import Request

from conduit import request_body
from conduit.ingest.errors import BadRequest, ClientGone, IngestError, PayloadTooLarge, RequestTimeout


def _ingest_error(exc: request_body.BodyError, limit: int) -> IngestError:
    if isinstance(exc, request_body.BodyTooLarge):
        return PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")
    if isinstance(exc, request_body.BodyTimeout):
        return RequestTimeout(exc.message)
    if isinstance(exc, request_body.ClientGone):
        return ClientGone(exc.message)
    return BadRequest(exc.message)


async def read_limited(request: Request, limit: int, *, deadline: float) -> bytes:
    """The raw body, refused as soon as it is known to exceed `limit` or to take over `deadline` s."""
    try:
        return await request_body.read_body(request, limit, deadline=deadline)
    except request_body.BodyError as exc:
        raise _ingest_error(exc, limit) from None
