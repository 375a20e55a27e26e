import base64
import gzip
import zlib

import brotli
import pytest

from conduit.ingest.decompress import decode, legacy_store_body
from conduit.ingest.errors import BadRequest, PayloadTooLarge, UnsupportedEncoding

DATA = b'{"message": "hello"}' * 100
LIMIT = 1024 * 1024


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(DATA)),
        ("x-gzip", gzip.compress(DATA)),
        ("deflate", zlib.compress(DATA)),
        ("deflate", raw_deflate(DATA)),
        ("br", brotli.compress(DATA)),
        ("identity", DATA),
        (None, DATA),
        ("GZIP", gzip.compress(DATA)),
        ("gzip, br", brotli.compress(gzip.compress(DATA))),
    ],
)
def test_each_encoding_round_trips(encoding: str | None, body: bytes) -> None:
    assert decode(body, encoding, LIMIT) == DATA


def test_gzip_with_several_members() -> None:
    assert decode(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", LIMIT) == b"abcd"


def test_unknown_encoding_is_415() -> None:
    with pytest.raises(UnsupportedEncoding, match="'zstd'"):
        decode(b"x", "zstd", LIMIT)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_garbage_is_a_clear_400(encoding: str) -> None:
    with pytest.raises(BadRequest, match=encoding if encoding != "br" else "brotli"):
        decode(b"this is not compressed at all", encoding, LIMIT)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(DATA)[:-12]),
        ("deflate", zlib.compress(DATA)[:-8]),
        ("br", brotli.compress(DATA)[:-3]),
    ],
)
def test_truncated_stream_is_400(encoding: str, body: bytes) -> None:
    with pytest.raises(BadRequest, match="truncated"):
        decode(body, encoding, LIMIT)


def test_trailing_garbage_after_zlib_stream_is_400() -> None:
    with pytest.raises(BadRequest, match="after the end"):
        decode(zlib.compress(DATA) + b"junk", "deflate", LIMIT)


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)],
)
def test_decompression_bomb_stops_at_the_limit(encoding: str, compress: object) -> None:
    bomb = compress(b"\0" * (16 * 1024 * 1024))  # type: ignore[operator]
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge, match="decompressed body is larger than the limit of 1000000"):
        decode(bomb, encoding, 1_000_000)


def test_exactly_at_the_limit_is_accepted() -> None:
    assert decode(gzip.compress(b"a" * 5000), "gzip", 5000) == b"a" * 5000
    with pytest.raises(PayloadTooLarge):
        decode(gzip.compress(b"a" * 5001), "gzip", 5000)
    with pytest.raises(PayloadTooLarge):
        decode(b"a" * 5001, None, 5000)


def test_legacy_store_body_base64_zlib() -> None:
    packed = base64.b64encode(zlib.compress(b'{"message": "old sdk"}'))
    assert legacy_store_body(packed, LIMIT) == b'{"message": "old sdk"}'
    assert legacy_store_body(b'{"a": 1}', LIMIT) == b'{"a": 1}'
    assert legacy_store_body(b"%%% nonsense", LIMIT) == b"%%% nonsense"
