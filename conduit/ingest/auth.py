"""Finding and checking the DSN key an SDK sent.

SDKs send the public key in one of three places: the ``X-Sentry-Auth`` header (or ``Authorization:
Sentry ...``), the ``sentry_key`` query parameter (browsers, which cannot always set headers), or the
``dsn`` in an envelope's header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import ProjectKey
from conduit.ingest.errors import BadRequest, Unauthorized, WrongProject

_KEY = re.compile(r"[0-9a-zA-Z_-]{1,32}")
# Bounded by length first so int() never meets a 10k-digit string; the value is checked against the
# largest id a BIGINT column holds.
_PROJECT_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_PROJECT_ID = 2**63 - 1
MISSING = (
    "missing authorization: send an X-Sentry-Auth header with sentry_key, "
    "a sentry_key query parameter, or a dsn in the envelope header"
)


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """Who a valid key belongs to: the project events go to and its organization."""

    organization_id: int
    project_id: int


def parse_auth_header(value: str) -> dict[str, str]:
    """``Sentry sentry_key=abc, sentry_version=7`` → ``{"sentry_key": "abc", "sentry_version": "7"}``."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "sentry":
        raise Unauthorized("authorization header must use the Sentry scheme: 'Sentry sentry_key=<key>, ...'")
    out: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, val = part.strip().partition("=")
        if not eq:
            continue
        out[name.strip().lower()] = val.strip().strip('"')
    return out


def key_from_dsn(dsn: object) -> str | None:
    if not isinstance(dsn, str) or not dsn:
        return None
    try:
        return urlsplit(dsn).username or None
    except ValueError:
        return None


def key_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key from headers or query, or None when neither carries one (the envelope may)."""
    header = headers.get("x-sentry-auth")
    if header is None:
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("sentry "):
            header = authorization
    if header is not None:
        key = parse_auth_header(header).get("sentry_key")
        if not key:
            raise Unauthorized("X-Sentry-Auth header has no sentry_key")
        return key
    return query.get("sentry_key") or None


def parse_project_id(raw: str) -> int:
    """The project id of an ingest path: canonical ASCII decimal, 1 to 2^63-1, or a `BadRequest`.

    One spelling per project: `str.isdigit()` and `int()` also accept superscripts, other scripts'
    digits, leading zeros, signs and surrounding space, which would either crash or alias project 1.
    """
    if not _PROJECT_ID.fullmatch(raw) or int(raw) > MAX_PROJECT_ID:
        raise BadRequest(
            f"invalid project id {raw[:40]!r}: expected a decimal number from 1 to {MAX_PROJECT_ID}, "
            "in ASCII digits without leading zeros"
        )
    return int(raw)


async def authenticate(session: AsyncSession, project_id: int, public_key: str | None) -> KeyOwner:
    """Check the key against the project in the URL.

    Whether the project exists plays no part in the answer, so a caller learns nothing about it.
    """
    if not public_key:
        raise Unauthorized(MISSING)
    if not _KEY.fullmatch(public_key):
        raise Unauthorized("malformed sentry_key")
    stmt = select(ProjectKey.organization_id, ProjectKey.project_id).where(
        ProjectKey.public_key == public_key, ProjectKey.is_active.is_(True)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise Unauthorized("unknown or disabled DSN key")
    if row.project_id != project_id:
        raise WrongProject(f"this DSN key does not belong to project {project_id}")
    return KeyOwner(organization_id=row.organization_id, project_id=row.project_id)
