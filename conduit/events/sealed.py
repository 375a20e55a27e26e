"""Secrets an event carries to one app are sealed wherever the event rests, and opened only to send it.

`installation.created` gives the app its grant code. The event is written to the outbox, then to a
delivery row whose body is what is signed and sent, and both rows outlive the code by weeks. So the
code is stored sealed: encrypted with the runtime's `SecretBox`, behind `PREFIX`. It is opened in
memory by the attempt that sends it (conduit.webhooks.unseal), and only while the code can still be
exchanged: unused and unexpired. After that a retry or redelivery carries `REDACTED` instead. The
app either has its tokens already or must be installed again, and a used code presented again would
revoke the tokens it produced (conduit.apps.tokens).

Everything that shows an event to people rather than to its app (live subscriptions, the delivery
log) shows it redacted (`redact`, `shown`): the installing organization got the code from
`installApp`, and the app from its webhook.
"""

from __future__ import annotations

from typing import Any

import orjson

from conduit.crypto import SecretBox

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


def body_fields(event_type: str, body: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The parsed envelope and its `data` when the body holds a sealed field, else None."""
    if event_type not in SEALED_FIELDS or PREFIX not in body:
        return None
    envelope = orjson.loads(body)
    data = envelope.get("data") if isinstance(envelope, dict) else None
    return (envelope, data) if isinstance(data, dict) else None


def encode(envelope: dict[str, Any]) -> bytes:
    # The same encoding as conduit.webhooks.payloads.encode_body (webhooks sit above events).
    return orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS)


def shown(event_type: str, body: str) -> str:
    """A stored delivery body as the delivery log shows it: sealed fields redacted."""
    parsed = body_fields(event_type, body)
    if parsed is None:
        return body
    envelope, data = parsed
    envelope["data"] = redact(event_type, data)
    return encode(envelope).decode()
