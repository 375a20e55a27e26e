"""The Sentry envelope format: a JSON header line, then items, each a JSON header line and a payload.

https://develop.sentry.dev/sdk/envelopes/ — an item's payload runs for ``length`` bytes when its
header gives one, else up to the next newline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conduit.ingest.errors import BadRequest
from conduit.ingest.jsonbody import parse_object

# Header lines are small in practice; a long one is garbage or an attack, and is refused unread.
MAX_HEADER_LINE = 64 * 1024
MAX_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class Item:
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item]


def _header_line(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    """The line starting at `pos` and the position after its newline (or the end)."""
    end = data.find(b"\n", pos, pos + MAX_HEADER_LINE + 1)
    if end == -1:
        if len(data) - pos > MAX_HEADER_LINE:
            raise BadRequest(f"{what} is longer than {MAX_HEADER_LINE} bytes")
        return data[pos:], len(data)
    return data[pos:end], end + 1


def _item_length(headers: dict[str, Any], index: int) -> int | None:
    length = headers.get("length")
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise BadRequest(f"item {index}: length must be a non-negative integer, got {length!r}")
    return length


def parse(data: bytes) -> Envelope:
    line, pos = _header_line(data, 0, "envelope header line")
    if not line.strip():
        raise BadRequest("envelope header line is empty")
    headers = parse_object(line, "envelope header")
    items: list[Item] = []
    while pos < len(data):
        index = len(items)
        if index >= MAX_ITEMS:
            raise BadRequest(f"envelope has more than {MAX_ITEMS} items")
        line, pos = _header_line(data, pos, f"item {index} header line")
        if not line.strip() and pos >= len(data):
            break  # a trailing newline after the last item
        item_headers = parse_object(line, f"item {index} header")
        item_type = item_headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise BadRequest(f"item {index} header has no type")
        length = _item_length(item_headers, index)
        if length is None:
            end = data.find(b"\n", pos)
            end = len(data) if end == -1 else end
            payload, pos = data[pos:end], end + 1
        else:
            if pos + length > len(data):
                raise BadRequest(
                    f"item {index} ({item_type}): length {length} exceeds the {len(data) - pos} bytes left"
                )
            payload, pos = data[pos : pos + length], pos + length
            if pos < len(data):
                if data[pos : pos + 1] != b"\n":
                    raise BadRequest(
                        f"item {index} ({item_type}): expected a newline after its {length}-byte payload"
                    )
                pos += 1
        items.append(Item(type=item_type, headers=item_headers, payload=payload))
    return Envelope(headers=headers, items=items)
