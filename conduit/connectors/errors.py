"""What a tracker call can fail with, whichever tracker it was.

TrackerError (Upstream)      any failure talking to a tracker; `status` is the HTTP status if one came back
├── Unauthorized             401 / an invalid or expired token, still there after one refresh
│   └── Revoked              the grant itself is gone (refresh refused): the installation is REVOKED
├── Forbidden (Forbidden)    403 without a rate limit: the account may not do this
├── NotFound (NotFound)      404 / 410: the ticket, repository or project is not there (`gone` for 410)
├── RateLimited              429, or 403 with no requests left; `retry_after` is the delay in seconds
├── Unavailable              5xx, timeouts, connection errors: try again later
├── AddressRefused           the tracker's host is an address Conduit may not call (loopback, private,
│                            metadata): a person must change the base URL, or the operator allow it
└── InvalidRequest (Invalid) other 4xx: the tracker refused what we sent; `message` is its own words

In brackets: the base in `conduit.errors` each one also is, so that an edge that maps errors by base
(GraphQL error types, HTTP statuses, job retries) treats a tracker's refusal like any other.

Messages reach tenants (an installation's status reason, its health, a link's sync error), so they
are one line and bounded; the words a tracker contributes are its own error fields, trimmed where the
reply is read (`conduit.connectors.http.error_message`), never its raw body.
"""

from __future__ import annotations

import re

from conduit import errors

MAX_MESSAGE = 500
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` on one line with its whitespace and control characters collapsed, at most `limit` long."""
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class TrackerError(errors.Upstream):
    def __init__(self, message: str, *, status: int | None = None, operation: str | None = None) -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.operation = operation


class Unauthorized(TrackerError):
    pass


class Revoked(Unauthorized):
    pass


class Forbidden(TrackerError, errors.Forbidden):
    pass


class NotFound(TrackerError, errors.NotFound):
    @property
    def gone(self) -> bool:
        return self.status == 410


class RateLimited(TrackerError):
    def __init__(
        self, message: str, retry_after: float, *, status: int | None = None, operation: str | None = None
    ) -> None:
        super().__init__(message, status=status, operation=operation)
        self.retry_after = retry_after


class Unavailable(TrackerError):
    pass


class AddressRefused(TrackerError):
    pass


class InvalidRequest(TrackerError, errors.Invalid):
    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        status: int | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, status=status, operation=operation)
        self.fields = fields or {}


__all__ = [
    "AddressRefused",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "Revoked",
    "TrackerError",
    "Unauthorized",
    "Unavailable",
]
