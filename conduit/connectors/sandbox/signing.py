"""Webhook signatures exactly as the real trackers make them."""

from __future__ import annotations

import hashlib
import hmac
import warnings
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hub_signature_256(secret: str, body: bytes) -> str:
    """GitHub's `X-Hub-Signature-256` and Jira admin webhooks' `X-Hub-Signature` value."""
    return "sha256=" + hmac_sha256_hex(secret, body)


def hub_signature_sha1(secret: str, body: bytes) -> str:
    """GitHub's legacy `X-Hub-Signature`, still sent next to the SHA-256 one."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def hs256_jwt(secret: str, claims: dict[str, Any]) -> str:
    """A compact HS256 JWT, as Jira puts in `Authorization: Bearer` for OAuth-app webhooks."""
    with warnings.catch_warnings():
        # Client secrets are whatever the tracker issued; a short one is the test's choice, not an error.
        warnings.simplefilter("ignore")
        key = OctKey.import_key(secret.encode())
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)
