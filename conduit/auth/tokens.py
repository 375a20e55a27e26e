"""API tokens: random bearer values, stored as a hash, scoped to one organization."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from conduit.errors import Invalid

TOKEN_PREFIX = "cdt_"
# One family per kind of resource; `write` implies `read`, `admin` implies everything.
FAMILIES = ("org", "member", "project", "issue", "event", "token", "job", "installation", "app", "webhook")
ADMIN = "admin"
ALL_SCOPES = (*[f"{f}:{a}" for f in FAMILIES for a in ("read", "write")], ADMIN)


class InvalidScope(Invalid):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="scopes")


def generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(value: str) -> str:
    # The value carries 256 random bits, so a fast hash is as safe as a slow one and keeps auth cheap.
    return hashlib.sha256(value.encode()).hexdigest()


def display_prefix(value: str) -> str:
    return value[: len(TOKEN_PREFIX) + 6]


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    out = sorted(set(scopes))
    unknown = [s for s in out if s not in ALL_SCOPES]
    if unknown:
        raise InvalidScope(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)}")
    if not out:
        raise InvalidScope("a token needs at least one scope")
    return out


def implied(scopes: Iterable[str]) -> frozenset[str]:
    """Every known scope that `scopes` grant (with `admin`, all of them)."""
    have = set(scopes)
    if ADMIN in have:
        return frozenset(ALL_SCOPES) | have
    reads = {f"{s.partition(':')[0]}:read" for s in have if s.endswith(":write")}
    return frozenset(have | reads)


def grants(scopes: Iterable[str], needed: str) -> bool:
    """Whether a token's scopes allow `needed` (e.g. ``issue:read``)."""
    have = set(scopes)
    if ADMIN in have or needed in have:
        return True
    family, _, action = needed.partition(":")
    return action == "read" and f"{family}:write" in have
