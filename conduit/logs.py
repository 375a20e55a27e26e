"""Access logs never carry a credential: secret query parameters are redacted before a line is written.

Query strings carry secrets by design in places Conduit does not control: a tracker's OAuth callback
brings `code` and `state`, browser SDKs send `sentry_key`, apps are redirected with their grant `code`.
uvicorn's access logger writes the full path with its query, so `RedactQueryFilter`, installed on the
`uvicorn.access` logger, rewrites that argument of every record before any handler formats it. The
parameter's name stays, so the log still says what was sent; only its value becomes `REDACTED`.

Paths can carry a secret too: a tracker webhook URL ends in the installation's hook token
(`/hooks/{provider}/{token}`), which is what makes the URL unguessable, so that segment is redacted
the same way.

Logs are text by default; `CONDUIT_LOG_FORMAT=json` makes every line one JSON object (`JsonFormatter`):
time, level, logger, message, the request id, and the trace and span ids while a span is active. The
redaction above runs before any formatter, so JSON lines are redacted alike. Each HTTP request has an
id (`RequestId`): the caller's `X-Request-Id` when it is a plain token, else a new one; every response
answers it, and every line logged while the request runs carries it.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
# Compared case-insensitively, after percent-decoding the name, so `%63ode` or `Code` hide nothing.
SECRET_PARAMETERS = frozenset(
    {
        "code",
        "state",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "sentry_key",
        "sentry_secret",
        "password",
        "secret",
        "key",
        "api_key",
        "apikey",
        "signature",
        "sig",
    }
)
_PAIR = re.compile(r"([^&;=]*)=([^&;]*)")
# Path segments that are secrets: the hook token after `/hooks/{provider}/`.
_SECRET_PATH = re.compile(r"^(/hooks/[^/?#]+/)[^/?#]+")


def _is_secret(name: str) -> bool:
    return unquote_plus(name).strip().lower() in SECRET_PARAMETERS


def redact_target(target: str) -> str:
    """A request target (`/path?query`) with secret path segments and query parameter values replaced."""
    path, sep, query = target.partition("?")
    path = _SECRET_PATH.sub(lambda m: m[1] + REDACTED, path)
    if not sep:
        return path
    query, hash_sep, fragment = query.partition("#")
    redacted = _PAIR.sub(lambda m: f"{m[1]}={REDACTED}" if _is_secret(m[1]) else m[0], query)
    return f"{path}?{redacted}{hash_sep}{fragment}"


class RedactQueryFilter(logging.Filter):
    """Rewrites the request target in uvicorn's access records: `(client, method, target, version, status)`.

    Any other record, or one whose arguments do not have that shape, passes unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        return True


def install_access_log_redaction(logger_name: str = ACCESS_LOGGER) -> RedactQueryFilter:
    """Put the filter on the access logger once; returns the filter in place.

    Called before uvicorn starts: uvicorn's logging set-up replaces the logger's handlers but keeps
    its filters.
    """
    logger = logging.getLogger(logger_name)
    for existing in logger.filters:
        if isinstance(existing, RedactQueryFilter):
            return existing
    installed = RedactQueryFilter()
    logger.addFilter(installed)
    return installed


# Structured logs, and the id that ties a request's lines together.

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REQUEST_ID_HEADER = "x-request-id"
# What a caller's id may be: a plain token, so it can neither forge log lines nor grow them unbounded.
_CALLER_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("conduit_request_id", default=None)
# Attributes every LogRecord has; anything else on a record came from `extra=` (a job's id and kind).
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# uvicorn's coloured copy of its message, which says nothing the message does not.
_SKIPPED_EXTRAS = frozenset({"color_message"})
_PLAIN = (str, int, float, bool, type(None))
# The format `configure_logging` set up in this process.
_configured: LogFormat = "text"


def _span_ids() -> tuple[str, str] | None:
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        # Never imported: tracing is off in this process, so no span can be active.
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        ids = _span_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in _SKIPPED_EXTRAS and key not in line:
                line[key] = (
                    value if isinstance(value, str | int | float | bool) or value is None else str(value)
                )
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line).decode()


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    """The root logger writes to stderr in `log_format`; uvicorn's loggers pass their records up to it.

    In JSON mode uvicorn must be given `log_config=None` (see `uvicorn_log_config`) so that it keeps
    its hands off; its access logger keeps the redaction filter whatever handles its records.
    """
    root = logging.getLogger()
    root.setLevel(level)
    handler = next((h for h in root.handlers if getattr(h, "conduit", False)), None)
    if handler is None:
        for existing in list(root.handlers):
            root.removeHandler(existing)
        handler = logging.StreamHandler()
        handler.conduit = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(formatter(log_format))
    global _configured
    _configured = log_format
    if log_format == "json":
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            for existing in list(logger.handlers):
                logger.removeHandler(existing)
            logger.propagate = True
    install_access_log_redaction()


def uvicorn_log_config() -> dict[str, Any] | None:
    """What `uvicorn.Config(log_config=...)` takes: its own text set-up, or none at all for JSON."""
    if _configured == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG


def _caller_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if _CALLER_ID.fullmatch(value) else None
    return None


class RequestId:
    """Gives each HTTP request its id (the caller's, when it is a plain token) and answers it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _caller_id(scope) or uuid.uuid4().hex
        header = (b"x-request-id", rid.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
