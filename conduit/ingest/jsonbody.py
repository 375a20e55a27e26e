"""Parsing JSON from SDKs into a plain dict, with an error that says what was wrong."""

from __future__ import annotations

from typing import Any

import orjson

from conduit.ingest.errors import BadRequest
from conduit.text import JSON_NUL_ESCAPE, without_nul


def parse_object(data: bytes, what: str) -> dict[str, Any]:
    """`what` names the part being parsed ("event payload", "envelope header") for the error message.

    orjson rejects invalid UTF-8 and nesting deeper than 1024 levels, so neither reaches the rest of
    the pipeline. A NUL character becomes U+FFFD wherever it is (conduit.text).
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object, not {_json_kind(value)}")
    if JSON_NUL_ESCAPE in data:
        value = without_nul(value)
    return value


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"
