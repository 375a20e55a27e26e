"""Text every database stores alike: no U+0000.

PostgreSQL text and JSONB cannot hold a NUL character, SQLite can. Text that arrives from outside
(an SDK's event, a tracker's webhook) is stored on whichever database the operator runs, so NUL is
replaced with U+FFFD where such text enters, in keys as well as values, rather than failing on one
database and not the other.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"
REPLACEMENT = "\ufffd"
# How JSON spells NUL (it has no other way): a body without it holds no NUL after parsing.
JSON_NUL_ESCAPE = b"\\u0000"


def _clean(value: Any) -> Any:
    return value.replace(NUL, REPLACEMENT) if isinstance(value, str) else value


def without_nul(document: Any) -> Any:
    """A copy of a parsed JSON document with U+0000 replaced in every string; iterative, because
    nesting may be deeper than Python's recursion limit."""
    if not isinstance(document, dict | list):
        return _clean(document)
    root: Any = {} if isinstance(document, dict) else [None] * len(document)
    stack: list[tuple[Any, Any]] = [(document, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, dict | list):
                copy: Any = {} if isinstance(item, dict) else [None] * len(item)
                stack.append((item, copy))
                item = copy
            else:
                item = _clean(item)
            if isinstance(target, dict):
                target[_clean(key)] = item
            else:
                target[key] = item
    return root
