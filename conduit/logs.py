"""Access logs never carry a credential: secret query parameters are redacted before a line is written.

Query strings carry secrets by design in places Conduit does not control: a tracker's OAuth callback
brings `code` and `state`, browser SDKs send `sentry_key`, apps are redirected with their grant `code`.
uvicorn's access logger writes the full path with its query, so `RedactQueryFilter`, installed on the
`uvicorn.access` logger, rewrites that argument of every record before any handler formats it. The
parameter's name stays, so the log still says what was sent; only its value becomes `REDACTED`.

Paths can carry a secret too: a tracker webhook URL ends in the installation's hook token
(`/hooks/{provider}/{token}`), which is what makes the URL unguessable, so that segment is redacted
the same way.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

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
