"""Which issue an event belongs to: a fingerprint computed from what stays stable across occurrences.

In order of precedence: the event's explicit ``fingerprint`` (where ``{{ default }}`` stands for the
components below), else the exception chain (types and in-app frames), else the log message. Line
numbers are left out on purpose, so editing code above a crash site does not split its issue.
"""

from __future__ import annotations

import hashlib
import re

import orjson

from conduit.ingest.normalize import ExceptionInfo, Frame, NormalizedEvent

# Bumped when the components change, so old and new hashes never collide by accident.
VERSION = "1"
_DEFAULT_PLACEHOLDER = re.compile(r"^\{\{\s*default\s*\}\}$", re.IGNORECASE)


def _frame_component(frame: Frame) -> str | None:
    where = frame.module or frame.filename
    if not where and not frame.function:
        return None
    return f"frame:{where or ''}:{frame.function or ''}"


def _exception_components(exceptions: tuple[ExceptionInfo, ...]) -> list[str]:
    # When any frame is marked in-app, only in-app frames count: library internals change on upgrades.
    only_in_app = any(f.in_app for exc in exceptions for f in exc.frames)
    parts = ["exception"]
    for exc in exceptions:
        parts.append(f"type:{exc.type or ''}")
        if not exc.frames:
            # Without a stack the message is all that tells two exceptions of one type apart.
            parts.append(f"value:{exc.value or ''}")
            continue
        frames = [f for f in exc.frames if f.in_app] if only_in_app else list(exc.frames)
        parts.extend(c for c in map(_frame_component, frames) if c)
    return parts


def default_components(event: NormalizedEvent) -> list[str]:
    if event.exceptions:
        return _exception_components(event.exceptions)
    if event.message:
        return ["message", event.message_template or event.message]
    return ["fallback", event.title]


def components(event: NormalizedEvent) -> list[str]:
    if not event.fingerprint:
        return default_components(event)
    parts = ["fingerprint"]
    for part in event.fingerprint:
        if _DEFAULT_PLACEHOLDER.match(part.strip()):
            parts.extend(default_components(event))
        else:
            parts.append(f"custom:{part}")
    return parts


def fingerprint(event: NormalizedEvent) -> str:
    """sha256 hex of the grouping components: the value of Issue.fingerprint."""
    return hashlib.sha256(orjson.dumps([VERSION, components(event)])).hexdigest()
