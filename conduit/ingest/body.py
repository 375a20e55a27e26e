"""Reading a request body without ever holding more than the compressed-size limit."""

from __future__ import annotations

from starlette.requests import Request

from conduit.ingest.errors import BadRequest, PayloadTooLarge


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it is known to exceed `limit`.

    Content-Length is checked before reading; the stream is counted too, because chunked bodies have no
    length and a client can lie about it.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadRequest(f"invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            raise _too_large(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)
