"""Global ids: opaque base64url of `Type:pk`, so `node(id)` can find any object.

There is one decoder, and it accepts only the canonical form: the exact string `encode` would produce for
the decoded pair. So `Issue:01`, `Issue:+1`, `Issue: 1`, `Issue:1_0`, non-ASCII digits (Arabic-Indic,
fullwidth), stray padding or characters outside the base64url alphabet are all refused, and a pk is
always within 1..2**63-1 (a BIGINT), so no id reaches the database that it cannot hold. Every failure is
an `InvalidId`, whose message says what a valid id looks like; nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import re

from conduit.errors import Invalid

MAX_PK = 2**63 - 1
# `Type:pk` in ASCII: a GraphQL-style type name, then digits with no sign and no leading zero.
_RAW = re.compile(r"([A-Za-z][A-Za-z0-9]{0,63}):([1-9][0-9]{0,18})")
# Longer than any id `encode` makes for a name of 64 characters and a 19-digit pk.
MAX_LENGTH = 120


class InvalidId(Invalid, ValueError):
    """Not an id Conduit issued; the message says what a valid one looks like."""


def encode(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, int]:
    """The (type name, pk) of a canonical global id; `InvalidId` for anything else."""
    invalid = InvalidId(f"{_shown(global_id)} is not a valid id")
    if not isinstance(global_id, str) or not 0 < len(global_id) <= MAX_LENGTH or not global_id.isascii():
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    match = _RAW.fullmatch(raw)
    if match is None:
        raise invalid
    type_name, pk = match[1], int(match[2])
    # The non-strict base64 decoder skips characters outside the alphabet: re-encoding catches them.
    if pk > MAX_PK or encode(type_name, pk) != global_id:
        raise invalid
    return type_name, pk


def decode_as(global_id: str, type_name: str) -> int:
    kind, pk = decode(global_id)
    if kind != type_name:
        raise InvalidId(f"{_shown(global_id)} is not the id of a {type_name}")
    return pk


def pk_or_none(global_id: str, type_name: str) -> int | None:
    """The pk, or None where an unusable id means "not found" to the caller."""
    try:
        return decode_as(global_id, type_name)
    except InvalidId:
        return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
