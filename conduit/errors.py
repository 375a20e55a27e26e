"""The one root of Conduit's expected failures.

    ConduitError                  an expected failure; `message` is safe to show the caller
    ├── NotFound                  no such object, or the caller's organization cannot see it (not told apart)
    ├── Invalid                   input the caller must change; `field` names it when there is one
    ├── Forbidden                 the caller lacks a right; `required_scope` names it when it is a scope
    └── Upstream                  a service on the other side (a tracker, an app's endpoint) failed or refused

Domains raise subclasses of these bases (a tracker's `RateLimited` is an `Upstream`, an unknown
status name an `Invalid`), so that each edge maps errors once, by base: the GraphQL layer to its typed
error results (`conduit.schema.errors.user_error`), HTTP endpoints to status codes, jobs to retry or
give up. Anything that is not a `ConduitError` is unexpected: a bug or an outage, masked for clients and
logged with an id.
"""

from __future__ import annotations


class ConduitError(Exception):
    """An expected failure whose message says what happened and, where it can, what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(ConduitError):
    pass


class Invalid(ConduitError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Forbidden(ConduitError):
    def __init__(self, message: str, required_scope: str | None = None) -> None:
        super().__init__(message)
        self.required_scope = required_scope


class Upstream(ConduitError):
    pass
