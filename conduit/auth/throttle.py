"""Sign-in throttling: failed attempts counted per account (email and organization) and per client address.

The counts are rows in the database, so every API process sees the same ones. Keys are hashed: the
table never holds the email addresses people typed, or their addresses. A success clears the account's
count (not the address's: one right password must not reopen an address that is guessing others).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.base import utcnow
from conduit.db.models import SignInFailure

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 10
PER_ADDRESS = 30


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    allowed: int


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def limits(email: str, organization: str | None, address: str) -> tuple[Limit, Limit]:
    return (
        Limit(_key("account", email.strip().lower(), (organization or "").strip().lower()), PER_ACCOUNT),
        Limit(_key("address", address), PER_ADDRESS),
    )


async def retry_after(session: AsyncSession, checks: tuple[Limit, ...]) -> int | None:
    """Seconds until an attempt is allowed again, or None when it is allowed now."""
    now = utcnow()
    wait = 0.0
    for limit in checks:
        stmt = (
            select(SignInFailure.created_at)
            .where(SignInFailure.key == limit.key, SignInFailure.created_at > now - WINDOW)
            .order_by(SignInFailure.created_at.desc())
            .limit(limit.allowed)
        )
        times = (await session.execute(stmt)).scalars().all()
        if len(times) >= limit.allowed:
            # Allowed again once the oldest of the last `allowed` failures leaves the window.
            wait = max(wait, (times[-1] + WINDOW - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


async def record_failure(session: AsyncSession, checks: tuple[Limit, ...]) -> None:
    now = utcnow()
    # Rows older than the window count for nothing: whoever fails next sweeps them.
    await session.execute(delete(SignInFailure).where(SignInFailure.created_at <= now - WINDOW))
    session.add_all(SignInFailure(key=limit.key, created_at=now) for limit in checks)
    await session.commit()


async def clear(session: AsyncSession, limit: Limit) -> None:
    await session.execute(delete(SignInFailure).where(SignInFailure.key == limit.key))
    await session.commit()


def password_change(member_id: int) -> Limit:
    """Wrong current passwords given to change one: a taken session must not become a guessing oracle."""
    return Limit(_key("password-change", str(member_id)), PER_ACCOUNT)
