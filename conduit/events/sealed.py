"""Secrets an event carries to one app are sealed wherever the event rests, and opened only to send it.

`installation.created` gives the app its grant code. The event is written to the outbox, then to a
delivery row whose body is what is signed and sent, and both rows outlive the code by weeks. So the
code is stored sealed: encrypted with the runtime's `SecretBox`, behind `PREFIX`. It is opened in
memory by the attempt that sends it (`open_body`), and only while the code can still be exchanged:
unused and unexpired. After that a retry or redelivery carries `REDACTED` instead. The app either has
its tokens already or must be installed again, and a used code presented again would revoke the
tokens it produced (conduit.auth.app_tokens).

Everything that shows an event to people rather than to its app (live subscriptions, the delivery
log) shows it redacted (`redact`, `shown`): the installing organization got the code from
`installApp`, and the app from its webhook.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.apps import credentials
from conduit.auth.crypto import SecretBox
from conduit.db.base import utcnow
from conduit.db.models import AppGrant

PREFIX = "sealed:v1:"
REDACTED = "[redacted]"
# Event type → the fields of its `data` that hold a secret for the receiving app.
SEALED_FIELDS: dict[str, tuple[str, ...]] = {"installation.created": ("code",)}


def seal(box: SecretBox, value: str) -> str:
    return PREFIX + box.encrypt(value)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def redact(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with every sealed field replaced by `REDACTED`, for anyone but the receiving app."""
    fields = SEALED_FIELDS.get(event_type, ())
    if not any(is_sealed(data.get(f)) for f in fields):
        return data
    return {k: (REDACTED if k in fields and is_sealed(v) else v) for k, v in data.items()}


def _body_fields(event_type: str, body: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The parsed envelope and its `data` when the body holds a sealed field, else None."""
    if event_type not in SEALED_FIELDS or PREFIX not in body:
        return None
    envelope = orjson.loads(body)
    data = envelope.get("data") if isinstance(envelope, dict) else None
    return (envelope, data) if isinstance(data, dict) else None


def _encode(envelope: dict[str, Any]) -> bytes:
    # The same encoding as conduit.webhooks.payloads.encode_body, which imports this package.
    return orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS)


def shown(event_type: str, body: str) -> str:
    """A stored delivery body as the delivery log shows it: sealed fields redacted."""
    parsed = _body_fields(event_type, body)
    if parsed is None:
        return body
    envelope, data = parsed
    envelope["data"] = redact(event_type, data)
    return _encode(envelope).decode()


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
    parsed = _body_fields(event_type, body)
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
    return _encode(envelope)
