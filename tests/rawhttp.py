"""HTTP/1.1 by hand over a loopback socket, for what a well-behaved client library will not do.

httpx always finishes the body it announced. Tests of the body reader need a client that declares
10 GB and sends nothing, stops halfway, or hangs up: this module writes the request head and whatever
body bytes it is given, then reads one response (or closes without reading).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson

# A guard against a hung test, not a measurement: every test here expects an answer long before it.
READ_GUARD = 60.0


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> RawResponse:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
    return RawResponse(int(status_line.split()[1]), headers, body)


async def send(port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> RawResponse:
    """Write the head and `body` (which may be shorter than announced), then read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request_head(method, path, headers) + body)
        await writer.drain()
        async with asyncio.timeout(READ_GUARD):
            return await _read_response(reader)
    finally:
        writer.close()
        await writer.wait_closed()


async def hang_up(port: int, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
    """Write the head and part of the body, then close the connection without waiting for an answer."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_head(method, path, headers) + body)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def chunk(data: bytes) -> bytes:
    """One chunk of a `Transfer-Encoding: chunked` body."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
