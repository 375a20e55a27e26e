"""Console sessions: a random token in an HttpOnly cookie, of which only the sha256 is stored.

A session ends at the first of: 12 hours without a request (idle), 7 days after it began (absolute),
sign-out or revocation (`revoked_at`), or its member being removed or changing role. It carries a CSRF
token; every cookie-authenticated request that is not a GET must send it back in `X-Conduit-CSRF` and,
when the browser says where it comes from (`Origin`, else `Referer`), come from this server's origin.
The cookie alone is what a cross-site form or fetch can borrow; the header is what it cannot set, and
the origin is what it cannot forge.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth import credentials
from conduit.db.base import utcnow
from conduit.db.models import Member, MemberSession, Organization
from conduit.settings import url_origin

COOKIE_NAME = "conduit_session"
CSRF_HEADER = "X-Conduit-CSRF"
TOKEN_PREFIX = "cdm_"
IDLE_TIMEOUT = timedelta(hours=12)
ABSOLUTE_TIMEOUT = timedelta(days=7)
# Writing last_seen_at on every request would turn reads into writes; the idle limit is hours long.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
MAX_USER_AGENT = 300
# The newest a member is shown; older ones still expire on their own.
MAX_LISTED = 100
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: MemberSession
    member: Member
    organization: Organization


async def start(session: AsyncSession, member: Member, user_agent: str | None) -> tuple[MemberSession, str]:
    """A new session for `member`, committed; returns it and the cookie value (shown only now)."""
    value = credentials.generate(TOKEN_PREFIX)
    now = utcnow()
    row = MemberSession(
        organization_id=member.organization_id,
        member_id=member.id,
        token_hash=credentials.digest(value),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
        user_agent=_printable(user_agent or "")[:MAX_USER_AGENT],
    )
    session.add(row)
    await session.commit()
    return row, value


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())


def is_live(row: MemberSession, now: datetime) -> bool:
    return row.revoked_at is None and now < row.expires_at and now < row.last_seen_at + IDLE_TIMEOUT


async def lookup(session: AsyncSession, value: str | None) -> SignedIn | None:
    """The live session a cookie value stands for, its last use recorded; None for anything else."""
    if not value or not credentials.looks_like(value, TOKEN_PREFIX):
        return None
    now = utcnow()
    found = (
        await session.execute(
            select(MemberSession, Member, Organization)
            .join(Member, Member.id == MemberSession.member_id)
            .join(Organization, Organization.id == MemberSession.organization_id)
            .where(MemberSession.token_hash == credentials.digest(value))
        )
    ).one_or_none()
    if found is None:
        return None
    row, member, org = found
    # The session's tenant is the member's: a row claiming otherwise is not honoured.
    if member.organization_id != row.organization_id or not is_live(row, now):
        return None
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        await session.execute(
            update(MemberSession).where(MemberSession.id == row.id).values(last_seen_at=now)
        )
        await session.commit()
        row.last_seen_at = now
    return SignedIn(row, member, org)


async def revoke(session: AsyncSession, row: MemberSession) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.commit()


async def revoke_member(session: AsyncSession, member_id: int, keep: int | None = None) -> int:
    """Revoke every live session of a member (but `keep`); flushed, committed by the caller."""
    stmt = update(MemberSession).where(
        MemberSession.member_id == member_id, MemberSession.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(MemberSession.id != keep)
    result = await session.execute(stmt.values(revoked_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


async def of_member(session: AsyncSession, organization_id: int, member_id: int) -> Sequence[MemberSession]:
    """A member's sessions, newest first: live ones, and ended ones until their absolute expiry."""
    stmt = (
        select(MemberSession)
        .where(
            MemberSession.organization_id == organization_id,
            MemberSession.member_id == member_id,
            MemberSession.expires_at > utcnow(),
        )
        .order_by(MemberSession.id.desc())
        .limit(MAX_LISTED)
    )
    return (await session.execute(stmt)).scalars().all()


def csrf_matches(given: str | None, row: MemberSession) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode(), row.csrf_token.encode())


def origin_allowed(origin: str | None, referer: str | None, own: Iterable[str]) -> bool:
    """Whether a request's stated origin is one of `own` (normalised origins); True when none is stated.

    `Origin: null` (a sandboxed frame, a redirect across sites) is a stated origin, and not ours.
    """
    stated = origin if origin is not None else referer
    if stated is None:
        return True
    try:
        return url_origin(stated) in set(own)
    except ValueError:
        return False


def request_origins(scheme: str, host_header: str | None, public_url: str) -> list[str]:
    """The origins this server answers as: the one the request was addressed to, and the public URL."""
    out = []
    with contextlib.suppress(ValueError):
        out.append(url_origin(public_url))
    if host_header:
        web_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        with contextlib.suppress(ValueError):
            out.append(url_origin(f"{web_scheme}://{host_header}"))
    return out


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(
    row: MemberSession,
    *,
    method: str,
    websocket: bool,
    csrf: str | None,
    origin: str | None,
    referer: str | None,
    own_origins: Iterable[str],
) -> str | None:
    """Why a cookie-authenticated request is refused as possibly cross-site, or None when it is not.

    A WebSocket carries no custom header, and browsers always send its `Origin`: so it must have one,
    and ours (cross-site WebSocket hijacking). Other requests that can change something need the CSRF
    header, and an origin of ours when they state one.
    """
    if websocket:
        if origin is None or not origin_allowed(origin, None, own_origins):
            return "a WebSocket signed in by cookie must be opened from this server's own pages (Origin)"
        return None
    if method.upper() in SAFE_METHODS:
        return None
    if not csrf_matches(csrf, row):
        return f"a request signed in by cookie must send the session's CSRF token in {CSRF_HEADER}"
    if not origin_allowed(origin, referer, own_origins):
        return "a request signed in by cookie must come from this server's own pages (Origin or Referer)"
    return None
