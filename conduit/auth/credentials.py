"""Random credentials, stored as hashes and compared in constant time.

Each kind has its own prefix so a leaked value is recognisable (and secret scanners can match it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CLIENT_ID = "cdc_"
CLIENT_SECRET = "cds_"
ACCESS_TOKEN = "cda_"
REFRESH_TOKEN = "cdr_"
GRANT_CODE = "gc_"
MAX_LENGTH = 200


def generate(prefix: str, nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def client_id() -> str:
    # Not secret, but unguessable so an app's existence cannot be probed by counting.
    return CLIENT_ID + secrets.token_hex(12)


def digest(value: str) -> str:
    # Values carry 256 random bits: a fast hash is as safe as a slow one here.
    return hashlib.sha256(value.encode()).hexdigest()


def matches(value: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(value), stored_hash)


def looks_like(value: str, prefix: str) -> bool:
    return isinstance(value, str) and value.startswith(prefix) and len(value) <= MAX_LENGTH
