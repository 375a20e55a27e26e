"""The `/_sandbox` control API's request handling: its error and how bodies and fields are read.

Control routes drive a sandbox from tests, benchmarks and the demo; a bad call is a 4xx that says what
to send instead, never a tracker-shaped API error.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


class ControlError(Exception):
    """Bad use of the `/_sandbox` control API."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def control_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


def opt(data: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = data.get(key, default)
    if value is not None and not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ControlError(f"`{key}` must be {name}, got {value!r}")
    return value


def req(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if data.get(key) is None:
        raise ControlError(f"`{key}` is required")
    return opt(data, key, kind)
