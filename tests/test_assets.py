"""Static file sets: one version for the set, changing with any file; gzip as the client accepts it."""

from __future__ import annotations

import pytest

from conduit.assets import AssetSet, _accepts_gzip


def test_the_version_changes_with_any_file_and_only_then() -> None:
    one = AssetSet([("a.js", b"export const a = 1;"), ("b.css", b"body{}")])
    same = AssetSet([("b.css", b"body{}"), ("a.js", b"export const a = 1;")])
    changed = AssetSet([("a.js", b"export const a = 2;"), ("b.css", b"body{}")])
    renamed = AssetSet([("c.js", b"export const a = 1;"), ("b.css", b"body{}")])
    assert one.version == same.version
    assert len({one.version, changed.version, renamed.version}) == 3


def test_small_or_binary_files_are_not_gzipped() -> None:
    assets = AssetSet([("tiny.js", b"x"), ("big.js", b"x" * 4096), ("pic.png", b"\x89PNG" + b"\0" * 4096)])
    assert assets.assets["tiny.js"].gzipped is None
    assert assets.assets["big.js"].gzipped is not None
    assert assets.assets["pic.png"].gzipped is None
    assert assets.assets["big.js"].media_type == "text/javascript; charset=utf-8"


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("identity", False),
        ("", False),
        ("gzipx", False),
        (",,,;;;", False),
    ],
)
def test_accept_encoding(header: str, accepted: bool) -> None:
    assert _accepts_gzip(header) is accepted
