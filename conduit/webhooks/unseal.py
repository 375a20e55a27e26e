"""Opening the grant codes sealed in a stored delivery body, for the one attempt that sends it.

A code is opened only while it can still be exchanged (unused, unexpired); otherwise the app is sent
`REDACTED` (see conduit.events.sealed for why codes rest sealed).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth import credentials
from conduit.crypto import SecretBox
from conduit.db.base import utcnow
from conduit.db.models import AppGrant
from conduit.events.sealed import PREFIX, REDACTED, SEALED_FIELDS, body_fields, encode, is_sealed


async def _still_exchangeable(session: AsyncSession, code: str) -> bool:
    grant = (
        await session.execute(
            select(AppGrant.used_at, AppGrant.expires_at).where(
                AppGrant.code_hash == credentials.digest(code)
            )
        )
    ).one_or_none()
    return grant is not None and grant.used_at is None and grant.expires_at > utcnow()


async def open_body(session: AsyncSession, box: SecretBox, event_type: str, body: str) -> bytes:
    """The bytes to sign and send for a stored delivery body: sealed codes opened while still usable."""
    parsed = body_fields(event_type, body)
    if parsed is None:
        return body.encode()
    envelope, data = parsed
    for field in SEALED_FIELDS[event_type]:
        value = data.get(field)
        if not is_sealed(value):
            continue
        try:
            code = box.decrypt(str(value).removeprefix(PREFIX))
        except ValueError:
            # Sealed under a key no longer configured: the code is lost, the event still goes.
            data[field] = REDACTED
            continue
        data[field] = code if await _still_exchangeable(session, code) else REDACTED
    return encode(envelope)
