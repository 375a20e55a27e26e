"""Decoding request bodies by Content-Encoding, incrementally and with a ceiling on the output.

A few kilobytes of gzip or brotli can expand to gigabytes, so nothing here inflates a whole body in
one call: every decoder is asked for at most the bytes still allowed, and stops there.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable

import brotli

from conduit.ingest.errors import BadRequest, PayloadTooLarge, UnsupportedEncoding

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"decompressed body is larger than the limit of {limit} bytes")


class _Sink:
    """Collects output and refuses to grow past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    @property
    def room(self) -> int:
        # One byte more than allowed, so "exactly at the limit" and "over it" can be told apart.
        return self.limit - self.size + 1

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise _too_large(self.limit)
        self.parts.append(chunk)

    def value(self) -> bytes:
        return b"".join(self.parts)


def _inflate(data: bytes, wbits: int, limit: int, name: str) -> bytes:
    """Inflate a zlib-family stream; gzip may hold several members back to back."""
    sink = _Sink(limit)
    rest = data
    while True:
        d = zlib.decompressobj(wbits)
        pending = rest
        try:
            # With a max_length, zlib stops producing output there and keeps the input it did not need.
            while True:
                sink.add(d.decompress(pending, sink.room))
                pending = d.unconsumed_tail
                if d.eof or not pending:
                    break
        except zlib.error as exc:
            raise BadRequest(f"body is not valid {name} data: {exc}") from None
        if not d.eof:
            raise BadRequest(f"{name} body is truncated")
        # Some writers pad the end with zero bytes; anything else after the stream is another member.
        rest = d.unused_data
        if not rest.strip(b"\x00"):
            return sink.value()
        if wbits != _GZIP_WBITS:
            raise BadRequest(f"unexpected bytes after the end of the {name} stream")


def _gzip(data: bytes, limit: int) -> bytes:
    return _inflate(data, _GZIP_WBITS, limit, "gzip")


def _deflate(data: bytes, limit: int) -> bytes:
    # HTTP "deflate" means zlib-wrapped, but many clients send raw deflate; the zlib header tells them apart.
    wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
    return _inflate(data, _ZLIB_WBITS if wrapped else _RAW_WBITS, limit, "deflate")


def _brotli(data: bytes, limit: int) -> bytes:
    sink = _Sink(limit)
    d = brotli.Decompressor()
    try:
        # The output limit is a hint to brotli (it grows its buffer in blocks); the sink enforces it.
        sink.add(d.process(data, output_buffer_limit=sink.room))
        while not d.is_finished():
            chunk = d.process(b"", output_buffer_limit=sink.room)
            if not chunk:
                break
            sink.add(chunk)
    except brotli.error as exc:
        raise BadRequest(f"body is not valid brotli data: {exc}") from None
    if not d.is_finished():
        raise BadRequest("brotli body is truncated")
    return sink.value()


def _identity(data: bytes, limit: int) -> bytes:
    if len(data) > limit:
        raise _too_large(limit)
    return data


DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "identity": _identity,
}


def decode(data: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo every coding named in a Content-Encoding header (applied in order, so undone in reverse)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    unknown = [c for c in codings if c not in DECODERS]
    if unknown:
        raise UnsupportedEncoding(
            f"unsupported Content-Encoding {unknown[0]!r}; supported: gzip, deflate, br, identity"
        )
    if not codings:
        codings = ["identity"]
    for coding in reversed(codings):
        data = DECODERS[coding](data, limit)
    return data


def legacy_store_body(data: bytes, limit: int) -> bytes:
    """Old SDKs post /store/ bodies as base64 of zlib-compressed JSON, without a Content-Encoding."""
    stripped = data.lstrip()
    if not stripped or stripped[:1] == b"{":
        return data
    try:
        packed = base64.b64decode(stripped, validate=False)
    except (binascii.Error, ValueError):
        return data  # not base64 either; the JSON parser will say what is wrong
    if not packed.startswith(b"{"):
        try:
            return _deflate(packed, limit)
        except BadRequest:
            return data
    return packed
