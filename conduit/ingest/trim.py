"""Bounding what is kept of an SDK's payload: strings, lists, mappings and depth all have a ceiling."""

from __future__ import annotations

from typing import Any

MAX_STRING = 1024
MAX_ITEMS = 50
MAX_DEPTH = 6
ELLIPSIS = "..."
# Mapping keys are names, not content: they get less room than values.
_MAX_KEY = 200


def text(value: str, limit: int = MAX_STRING) -> str:
    if len(value) <= limit:
        return value
    return value[: limit - len(ELLIPSIS)] + ELLIPSIS


def first_line(value: str, limit: int) -> str:
    return text(value.strip().split("\n", 1)[0].strip(), limit)


def value(obj: Any, *, depth: int = MAX_DEPTH, string: int = MAX_STRING, items: int = MAX_ITEMS) -> Any:
    """A JSON-safe copy of `obj` with every dimension bounded; what does not fit is marked, not hidden."""
    if obj is None or isinstance(obj, bool | int | float):
        return obj
    if isinstance(obj, str):
        return text(obj, string)
    if depth <= 0:
        return "[trimmed: too deep]"
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(obj.items()):
            if i >= items:
                out["..."] = f"[trimmed: {len(obj) - items} more keys]"
                break
            key = k if type(k) is str and len(k) <= _MAX_KEY else text(str(k), _MAX_KEY)
            out[key] = _child(v, depth, string, items)
        return out
    if isinstance(obj, list | tuple):
        kept = [_child(v, depth, string, items) for v in obj[:items]]
        if len(obj) > items:
            kept.append(f"[trimmed: {len(obj) - items} more items]")
        return kept
    return text(repr(obj), string)


def _child(v: Any, depth: int, string: int, items: int) -> Any:
    # Most of a payload is short strings and numbers: they are answered here, without a call of
    # `value` each, which is most of what trimming an event costs.
    kind = type(v)
    if kind is str:
        return v if len(v) <= string else text(v, string)
    if v is None or kind is int or kind is float or kind is bool:
        return v
    return value(v, depth=depth - 1, string=string, items=items)
