"""Standard Webhooks signatures: `whsec_` secrets, `v1` HMAC-SHA256 over `{id}.{timestamp}.{body}`.

Several secrets may sign at once (during rotation the old key keeps signing beside the new one), so a
receiver that still holds either key verifies the delivery.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from secrets import token_bytes

from conduit.errors import Forbidden, Invalid

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
DEFAULT_SECRET_BYTES = 32
DEFAULT_TOLERANCE = 300  # seconds either side of now, as the spec recommends

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

# Ids travel in a header and inside the signed content: printable, no spaces, no separators that matter.
_MSG_ID = re.compile(r"^[A-Za-z0-9_\-:]{1,128}$")


# Both stay ValueErrors as well: receivers using `verify` catch that.
class InvalidSecret(Invalid, ValueError):
    """A webhook secret that is not `whsec_` followed by base64 of 24 to 64 bytes."""


class VerificationError(Forbidden, ValueError):
    """A delivery whose headers are missing, stale, or signed with none of the receiver's keys."""


def generate_secret(nbytes: int = DEFAULT_SECRET_BYTES) -> str:
    if not MIN_SECRET_BYTES <= nbytes <= MAX_SECRET_BYTES:
        raise InvalidSecret(f"a secret has {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {nbytes}")
    return SECRET_PREFIX + base64.b64encode(token_bytes(nbytes)).decode()


def parse_secret(secret: str) -> bytes:
    """The key bytes of a `whsec_...` secret; the error says what is wrong without echoing the secret."""
    if not isinstance(secret, str):
        raise InvalidSecret(f"a webhook secret is a string, not {type(secret).__name__}")
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"a webhook secret starts with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret(f"the part after {SECRET_PREFIX!r} is not valid base64") from exc
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidSecret(
            f"a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, "
            f"this one holds {len(key)}"
        )
    return key


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES:
            raise InvalidSecret(f"a signing key has {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
        return secret
    return parse_secret(secret)


def _check_id(msg_id: str) -> None:
    if not isinstance(msg_id, str) or not _MSG_ID.match(msg_id):
        raise ValueError(f"webhook id {msg_id!r} must be 1-128 characters of A-Z a-z 0-9 _ - :")


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str | bytes]) -> str:
    """The `webhook-signature` value: one `v1,<base64>` per secret, space-separated."""
    _check_id(msg_id)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError(f"timestamp must be whole unix seconds, not {timestamp!r}")
    if not isinstance(body, bytes):
        raise TypeError(f"body must be the exact bytes sent, not {type(body).__name__}")
    if isinstance(secrets, str | bytes) or not secrets:
        raise ValueError("sign with a non-empty list of secrets")
    return " ".join(
        "v1," + base64.b64encode(_digest(_key(s), msg_id, timestamp, body)).decode() for s in secrets
    )


def headers(
    msg_id: str, body: bytes, secrets: Sequence[str | bytes], *, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt; the timestamp is now unless given."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(ts),
        HEADER_SIGNATURE: sign(msg_id, ts, body, secrets),
    }


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise VerificationError unless one `v1` signature matches; compares in constant time."""
    lowered = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE) if not lowered.get(h)]
    if missing:
        raise VerificationError(f"missing header(s): {', '.join(missing)}")
    msg_id = lowered[HEADER_ID]
    try:
        timestamp = int(lowered[HEADER_TIMESTAMP])
    except ValueError:
        raise VerificationError(f"{HEADER_TIMESTAMP} is not whole unix seconds") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise VerificationError("timestamp too old: possibly a replay")
    if timestamp > current + tolerance:
        raise VerificationError("timestamp too far in the future")
    expected = _digest(_key(secret), msg_id, timestamp, body)
    for candidate in lowered[HEADER_SIGNATURE].split():
        version, sep, encoded = candidate.partition(",")
        if version != "v1" or not sep:
            continue  # other schemes (v1a) or junk: not ours to judge
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(given, expected):
            return
    raise VerificationError("no v1 signature matches this secret")
