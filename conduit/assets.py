"""Static files for browsers, read once and served from memory, cacheable for good.

A set of files (a directory of ours, or one a package ships) is read when it is loaded; each file is kept
with its gzip form and a content hash. Its URLs carry the hash of the whole set (`version`), so a response
may be cached as immutable: a change to any file changes every URL, and nothing stale is ever mixed with
something new. A request for an older version still gets today's file, but revalidated rather than kept.
The set is closed: only the names found at load time exist, so no path from a request reaches the disk.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import PurePosixPath

from starlette.requests import Request
from starlette.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Below this, gzip's header costs more than it saves.
GZIP_MIN_BYTES = 512
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


def _asset(name: str, body: bytes) -> Asset:
    suffix = PurePosixPath(name).suffix
    media_type = TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    compressible = media_type.startswith(("text/", "application/json", "image/svg"))
    gzipped = gzip.compress(body, 9, mtime=0) if compressible and len(body) >= GZIP_MIN_BYTES else None
    return Asset(body, gzipped, media_type, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def _walk(root: Traversable, prefix: str = "") -> Iterable[tuple[str, bytes]]:
    for entry in root.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            yield from _walk(entry, name + "/")
        elif entry.is_file() and not entry.name.startswith(".") and entry.name != "__init__.py":
            yield name, entry.read_bytes()


class AssetSet:
    """Files by relative name (`js/app.js`), with a version that changes whenever any of them does."""

    def __init__(self, files: Iterable[tuple[str, bytes]]) -> None:
        self.assets = {name: _asset(name, body) for name, body in files}
        digest = hashlib.sha256()
        for name in sorted(self.assets):
            digest.update(name.encode() + b"\0" + self.assets[name].etag.encode())
        self.version = digest.hexdigest()[:12]

    @classmethod
    def from_directory(cls, root: Traversable, only: Iterable[str] | None = None) -> AssetSet:
        files = _walk(root)
        if only is not None:
            wanted = set(only)
            files = ((name, body) for name, body in files if name in wanted)
        return cls(files)

    def names(self) -> list[str]:
        return sorted(self.assets)

    def response(self, request: Request, name: str, version: str) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        headers = {
            "Cache-Control": IMMUTABLE if version == self.version else REVALIDATE,
            "ETag": asset.etag,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = asset.body
        if asset.gzipped is not None and _accepts_gzip(request.headers.get("accept-encoding", "")):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False
