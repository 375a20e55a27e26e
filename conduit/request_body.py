"""Reading a request body without ever holding more than a limit, or waiting on it forever.

Every endpoint that takes a body reads it through `read_body`, before any authentication that needs a
database round trip, so an unauthenticated caller costs at most `limit` bytes of memory and `timeout`
seconds of a connection:

- `Content-Length` is checked before the first byte is read: a declared size over the limit is refused
  at once (a client announcing 10 GB and sending nothing gets its 413 immediately, not a hang);
- the stream is counted as it arrives, because chunked bodies have no length and a client can lie;
- the whole read has a deadline, so a slow or stalled body ends with 408 instead of holding the
  connection;
- a client that hangs up mid-body is a `ClientGone`, which endpoints answer quietly rather than letting
  starlette's `ClientDisconnect` surface as an unhandled ASGI error.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from conduit.errors import Invalid

# A body arriving slower than this is refused: generous for any real client on any real link.
DEFAULT_TIMEOUT = 30.0


class BodyError(Invalid):
    """A body that cannot be read; `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)


class BodyTooLarge(BodyError):
    status = 413


class BodyTimeout(BodyError):
    status = 408


class BadContentLength(BodyError):
    status = 400


class ClientGone(BodyError):
    """The client disconnected before sending the whole body; nobody is left to answer."""

    status = 400


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the request body is larger than the limit of {limit} bytes")


def check_declared_length(request: Request, limit: int) -> None:
    """Refuse a body whose `Content-Length` is malformed or over `limit`, without reading it."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    value = declared.strip()
    # str.isdigit() accepts superscripts and other scripts' digits; int() then fails or reads them.
    if not value or not value.isascii() or not value.isdigit():
        raise BadContentLength(f"invalid Content-Length header {declared[:40]!r}")
    if int(value) > limit:
        raise too_large(limit)


async def read_body(request: Request, limit: int, *, deadline: float = DEFAULT_TIMEOUT) -> bytes:
    """The raw body, refused as soon as it is known to exceed `limit` or to take over `deadline` s."""
    check_declared_length(request, limit)
    parts: list[bytes] = []
    size = 0

    async def collect() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            parts.append(chunk)

    try:
        async with asyncio.timeout(deadline):
            await collect()
    except TimeoutError:
        raise BodyTimeout(f"the request body did not arrive within {deadline:g} seconds") from None
    except ClientDisconnect:
        raise ClientGone("the client disconnected before sending the whole body") from None
    return b"".join(parts)
