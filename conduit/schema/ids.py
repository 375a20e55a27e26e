"""Global ids: opaque base64 of `Type:pk`, so `node(id)` can find any object."""

from __future__ import annotations

import base64
import binascii


class InvalidId(ValueError):
    pass


def encode(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, _, pk = raw.partition(":")
        value = int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidId(f"{global_id!r} is not a valid id") from exc
    if not type_name or value <= 0:
        raise InvalidId(f"{global_id!r} is not a valid id")
    return type_name, value


def decode_as(global_id: str, type_name: str) -> int:
    kind, pk = decode(global_id)
    if kind != type_name:
        raise InvalidId(f"{global_id!r} is not the id of a {type_name}")
    return pk
