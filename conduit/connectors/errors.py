"""What a tracker call can fail with, whichever tracker it was.

TrackerError                 any failure talking to a tracker; `status` is the HTTP status if one came back
├── Unauthorized             401 / an invalid or expired token, still there after one refresh
│   └── Revoked              the grant itself is gone (refresh refused): the installation is REVOKED
├── Forbidden                403 without a rate limit: the account may not do this
├── NotFound                 404 / 410: the ticket, repository or project is not there (`gone` for 410)
├── RateLimited              429, or 403 with no requests left; `retry_after` is the delay in seconds
├── Unavailable              5xx, timeouts, connection errors: try again later
└── InvalidRequest           other 4xx: the tracker refused what we sent; `message` is its own words
"""

from __future__ import annotations


class TrackerError(Exception):
    def __init__(self, message: str, *, status: int | None = None, operation: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.operation = operation


class Unauthorized(TrackerError):
    pass


class Revoked(Unauthorized):
    pass


class Forbidden(TrackerError):
    pass


class NotFound(TrackerError):
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


class InvalidRequest(TrackerError):
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
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "Revoked",
    "TrackerError",
    "Unauthorized",
    "Unavailable",
]
