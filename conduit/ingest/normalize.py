"""An SDK's event payload turned into a small typed record.

SDKs are many and old versions linger, so a field of the wrong shape is dropped and noted in
``data["errors"]`` (as Sentry's relay does) rather than failing the event. Only an unusable
``event_id`` is refused, because deduplication depends on it.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from conduit.ingest import trim
from conduit.ingest.errors import BadRequest

LEVELS = {"fatal", "error", "warning", "info", "debug"}
LEVEL_ALIASES = {"warn": "warning", "critical": "fatal", "log": "info", "err": "error"}
# Events further in the future (clock skew) or the past (a queue drained late) get the receive time.
MAX_FUTURE = timedelta(minutes=1)
MAX_AGE = timedelta(days=30)
MAX_EXCEPTIONS = 25
# Deep recursion produces thousands of frames; the outermost and innermost ones say the most.
MAX_FRAMES = 200
MAX_TAGS = 100
MAX_FINGERPRINT_PARTS = 50
MAX_BREADCRUMBS = 30
# The serialized `data` column stays under this; optional sections go first when it does not.
MAX_DATA_BYTES = 256 * 1024
OPTIONAL_SECTIONS = ("breadcrumbs", "extra", "modules", "request", "contexts", "user")
_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
_PLATFORM = re.compile(r"^[a-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Frame:
    function: str | None
    module: str | None
    filename: str | None
    lineno: int | None
    in_app: bool | None


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    type: str | None
    value: str | None
    module: str | None
    frames: tuple[Frame, ...]


@dataclass(frozen=True, slots=True)
class NormalizedEvent:
    event_id: str
    timestamp: datetime
    received_at: datetime
    level: str
    platform: str
    message: str
    # The unformatted log template ("user %s failed"), which groups better than the formatted text.
    message_template: str | None
    # Oldest first, as Sentry sends chained exceptions: the last one is the exception that was raised.
    exceptions: tuple[ExceptionInfo, ...]
    release: str | None
    environment: str | None
    tags: dict[str, str]
    fingerprint: tuple[str, ...] | None
    title: str
    culprit: str
    data: dict[str, Any]

    @property
    def main_exception(self) -> ExceptionInfo | None:
        return self.exceptions[-1] if self.exceptions else None


class _Notes:
    """Fields that were dropped or fixed, kept with the event so a reader can see why."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def invalid(self, name: str, reason: str) -> None:
        if len(self.items) < 50:
            self.items.append({"type": "invalid_data", "name": name, "reason": reason})


def _str(raw: object, limit: int) -> str | None:
    if isinstance(raw, str):
        return trim.text(raw, limit)
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return trim.text(str(raw), limit)
    return None


def _optional_str(payload: dict[str, Any], name: str, limit: int, notes: _Notes) -> str | None:
    raw = payload.get(name)
    if raw is None:
        return None
    out = _str(raw, limit)
    if out is None:
        notes.invalid(name, f"expected a string, got {type(raw).__name__}")
    return out or None


def normalize_event_id(raw: object) -> str | None:
    """32 lowercase hex characters; UUIDs with dashes are accepted, as SDKs sometimes send them."""
    if raw is None:
        return None
    if isinstance(raw, str):
        candidate = raw.strip().lower().replace("-", "")
        if _EVENT_ID.match(candidate):
            return candidate
    raise BadRequest(f"event_id must be 32 hexadecimal characters, got {trim.text(repr(raw), 60)}")


def _timestamp(raw: object, received: datetime, notes: _Notes) -> datetime:
    ts: datetime | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if math.isfinite(raw) and 0 <= raw < 32503680000:  # year 3000: past it is garbage
            ts = datetime.fromtimestamp(raw, UTC)
    elif isinstance(raw, str) and len(raw) <= 64:
        try:
            ts = datetime.fromtimestamp(float(raw), UTC) if raw.replace(".", "", 1).isdigit() else None
            if ts is None:
                ts = datetime.fromisoformat(raw.strip())
                ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        except (ValueError, OverflowError, OSError):
            ts = None
    if raw is not None and ts is None:
        notes.invalid("timestamp", "not a unix time or an ISO 8601 date")
    if ts is None:
        return received
    if ts > received + MAX_FUTURE or ts < received - MAX_AGE:
        notes.invalid("timestamp", f"{ts.isoformat()} is too far from the receive time; clamped")
        return received
    return ts


def _level(raw: object, notes: _Notes) -> str:
    if raw is None:
        return "error"
    if isinstance(raw, str):
        level = raw.strip().lower()
        level = LEVEL_ALIASES.get(level, level)
        if level in LEVELS:
            return level
    notes.invalid("level", f"unknown level {trim.text(repr(raw), 40)}")
    return "error"


def _platform(raw: object, notes: _Notes) -> str:
    if raw is None:
        return "other"
    if isinstance(raw, str) and _PLATFORM.match(raw.strip().lower()):
        return raw.strip().lower()
    notes.invalid("platform", "expected a short lowercase name")
    return "other"


def _message(payload: dict[str, Any]) -> tuple[str, str | None]:
    """(formatted message, unformatted template) from `logentry` or `message`, old and new shapes."""
    for name in ("logentry", "sentry.interfaces.Message", "message"):
        raw = payload.get(name)
        if isinstance(raw, str) and raw.strip():
            return trim.text(raw, 8192), trim.text(raw, 8192)
        if isinstance(raw, dict):
            formatted = raw.get("formatted")
            template = raw.get("message")
            formatted_s = formatted if isinstance(formatted, str) and formatted.strip() else None
            template_s = template if isinstance(template, str) and template.strip() else None
            if formatted_s or template_s:
                text = formatted_s or template_s or ""
                return trim.text(text, 8192), trim.text(template_s, 8192) if template_s else None
    return "", None


_FRAME_SCALARS = (
    "function",
    "module",
    "filename",
    "abs_path",
    "lineno",
    "colno",
    "in_app",
    "context_line",
    "package",
    "platform",
)
_FRAME_CONTEXT_LINES = 5


def _readable_frame(f: dict[str, Any]) -> dict[str, Any]:
    # Frames are the bulk of an event: scalars are copied directly and only `vars` is walked in depth.
    out: dict[str, Any] = {}
    for k in _FRAME_SCALARS:
        v = f.get(k)
        if isinstance(v, str):
            out[k] = trim.text(v, 512)
        elif isinstance(v, bool | int | float):
            out[k] = v
    for k in ("pre_context", "post_context"):
        lines = f.get(k)
        if isinstance(lines, list):
            # The lines nearest the failing one: the end of pre_context, the start of post_context.
            near = lines[-_FRAME_CONTEXT_LINES:] if k == "pre_context" else lines[:_FRAME_CONTEXT_LINES]
            out[k] = [trim.text(x, 512) for x in near if isinstance(x, str)]
    if isinstance(f.get("vars"), dict):
        out["vars"] = trim.value(f["vars"], depth=3, string=256, items=20)
    return out


def _frames(raw: object) -> tuple[tuple[Frame, ...], list[dict[str, Any]]]:
    """Typed frames for grouping, plus a trimmed copy of each frame for people to read."""
    frames_raw = raw.get("frames") if isinstance(raw, dict) else None
    if not isinstance(frames_raw, list):
        return (), []
    frames = [f for f in frames_raw if isinstance(f, dict)]
    if len(frames) > MAX_FRAMES:
        half = MAX_FRAMES // 2
        frames = frames[:half] + frames[-half:]
    typed: list[Frame] = []
    kept: list[dict[str, Any]] = []
    for f in frames:
        lineno = f.get("lineno")
        in_app = f.get("in_app")
        typed.append(
            Frame(
                function=_str(f.get("function"), 256),
                module=_str(f.get("module"), 256),
                filename=_str(f.get("filename") or f.get("abs_path"), 512),
                lineno=lineno if isinstance(lineno, int) and not isinstance(lineno, bool) else None,
                in_app=in_app if isinstance(in_app, bool) else None,
            )
        )
        kept.append(_readable_frame(f))
    return tuple(typed), kept


def _exceptions(payload: dict[str, Any], notes: _Notes) -> tuple[tuple[ExceptionInfo, ...], list[Any]]:
    raw = payload.get("exception", payload.get("sentry.interfaces.Exception"))
    if raw is None:
        return (), []
    values = raw.get("values") if isinstance(raw, dict) else raw
    if isinstance(raw, dict) and values is None and ("type" in raw or "value" in raw):
        values = [raw]  # a bare exception object, as some old SDKs send
    if not isinstance(values, list):
        notes.invalid("exception", "expected {'values': [...]}")
        return (), []
    values = [v for v in values if isinstance(v, dict)][-MAX_EXCEPTIONS:]
    typed: list[ExceptionInfo] = []
    kept: list[Any] = []
    for v in values:
        frames, readable_frames = _frames(v.get("stacktrace"))
        info = ExceptionInfo(
            type=_str(v.get("type"), 500),
            value=_str(v.get("value"), 8192),
            module=_str(v.get("module"), 256),
            frames=frames,
        )
        if info.type is None and info.value is None and not frames:
            continue
        typed.append(info)
        readable: dict[str, Any] = {"type": info.type, "value": info.value, "module": info.module}
        if isinstance(v.get("mechanism"), dict):
            readable["mechanism"] = trim.value(v["mechanism"], depth=3, items=20)
        readable["stacktrace"] = {"frames": readable_frames}
        kept.append(readable)
    return tuple(typed), kept


def _tags(raw: object, notes: _Notes) -> dict[str, str]:
    if raw is None:
        return {}
    pairs: list[tuple[object, object]]
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = [(p[0], p[1]) for p in raw if isinstance(p, list | tuple) and len(p) == 2]
    else:
        notes.invalid("tags", "expected an object or a list of [key, value] pairs")
        return {}
    out: dict[str, str] = {}
    for k, v in pairs:
        key, val = _str(k, 200), _str(v, 200)
        if key and val is not None and len(out) < MAX_TAGS:
            out[key] = val
    return out


def _fingerprint(raw: object, notes: _Notes) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        notes.invalid("fingerprint", "expected a list of strings")
        return None
    parts = [p for p in (_str(x, 500) for x in raw[:MAX_FINGERPRINT_PARTS]) if p is not None]
    return tuple(parts) or None


def _title(exceptions: tuple[ExceptionInfo, ...], message: str) -> str:
    main = exceptions[-1] if exceptions else None
    if main is not None and (main.type or main.value):
        value = trim.first_line(main.value, 200) if main.value else ""
        if main.type and value:
            return trim.text(f"{main.type}: {value}", 1000)
        return trim.text(main.type or value, 1000)
    if message.strip():
        return trim.first_line(message, 1000)
    return "<unlabeled event>"


def _culprit(exceptions: tuple[ExceptionInfo, ...], payload: dict[str, Any]) -> str:
    """The most recent in-app frame of the raised exception: where a developer would start looking."""
    main = exceptions[-1] if exceptions else None
    if main is not None and main.frames:
        in_app = [f for f in main.frames if f.in_app]
        frame = (in_app or list(main.frames))[-1]
        where = frame.module or frame.filename
        if where and frame.function:
            return trim.text(f"{where} in {frame.function}", 1000)
        if where or frame.function:
            return trim.text(where or frame.function or "", 1000)
    for name in ("transaction", "culprit"):
        value = _str(payload.get(name), 1000)
        if value:
            return value
    return ""


def _bounded_data(data: dict[str, Any]) -> dict[str, Any]:
    for section in OPTIONAL_SECTIONS:
        if len(orjson.dumps(data)) <= MAX_DATA_BYTES:
            break
        data.pop(section, None)
    if len(orjson.dumps(data)) > MAX_DATA_BYTES:
        # Still too large: frames with huge local variables. Keep the frames, drop their variables.
        for exc in data.get("exception", {}).get("values", []):
            for frame in exc.get("stacktrace", {}).get("frames", []):
                frame.pop("vars", None)
                frame.pop("pre_context", None)
                frame.pop("post_context", None)
    if len(orjson.dumps(data)) > MAX_DATA_BYTES:
        data = {"errors": data.get("errors", []), "trimmed": "event data exceeded the size limit"}
    return data


def normalize(
    payload: dict[str, Any], received_at: datetime, *, fallback_event_id: str | None = None
) -> NormalizedEvent:
    """`fallback_event_id` comes from the envelope header, used when the payload carries none."""
    notes = _Notes()
    event_id = (
        normalize_event_id(payload.get("event_id"))
        or normalize_event_id(fallback_event_id)
        or uuid.uuid4().hex
    )
    message, template = _message(payload)
    exceptions, readable_exceptions = _exceptions(payload, notes)
    data: dict[str, Any] = {}
    if readable_exceptions:
        data["exception"] = {"values": readable_exceptions}
    if message:
        data["message"] = trim.text(message)
    for name in ("contexts", "request", "user", "extra", "sdk", "modules"):
        if isinstance(payload.get(name), dict):
            data[name] = trim.value(payload[name], depth=5, string=512)
    crumbs = payload.get("breadcrumbs")
    crumbs = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    if isinstance(crumbs, list):
        kept = crumbs[-MAX_BREADCRUMBS:]
        data["breadcrumbs"] = trim.value(kept, depth=4, string=512, items=MAX_BREADCRUMBS)
    for name in ("server_name", "transaction", "logger", "dist"):
        value = _str(payload.get(name), 200)
        if value:
            data[name] = value
    timestamp = _timestamp(payload.get("timestamp"), received_at, notes)
    level = _level(payload.get("level"), notes)
    platform = _platform(payload.get("platform"), notes)
    release = _optional_str(payload, "release", 200, notes)
    environment = _optional_str(payload, "environment", 200, notes)
    tags = _tags(payload.get("tags"), notes)
    fingerprint = _fingerprint(payload.get("fingerprint"), notes)
    if notes.items:
        data["errors"] = notes.items
    return NormalizedEvent(
        event_id=event_id,
        timestamp=timestamp,
        received_at=received_at,
        level=level,
        platform=platform,
        message=message,
        message_template=template,
        exceptions=exceptions,
        release=release,
        environment=environment,
        tags=tags,
        fingerprint=fingerprint,
        title=_title(exceptions, message),
        culprit=_culprit(exceptions, payload),
        data=_bounded_data(data),
    )
