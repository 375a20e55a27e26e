"""Expected failures, as GraphQL shows them.

Mutations return them as members of their result union: `NotFoundError`, `ValidationError` (naming the
field), `ForbiddenError` (naming the scope), `TrackerError` (a tracker or other upstream failed, with
`retryAfter`). `user_error` is the one mapping from the error root (conduit.errors) to those types, so a
resolver catches a domain error by its base and returns `user_error(exc)`. Queries raise the GraphQL
forms instead: `MissingScope` (FORBIDDEN) and `BadInput` (BAD_USER_INPUT, naming the argument), which is
also what an id argument that does not decode becomes (`decoded_id`, `decoded_pk`, over conduit.ids, the
one decoder).
"""

from __future__ import annotations

from typing import overload

import strawberry
from graphql import GraphQLError

from conduit import errors, ids
from conduit.auth import tokens


@strawberry.interface
class UserError:
    message: str


@strawberry.type
class NotFoundError(UserError):
    """The object does not exist, or the token's organization cannot see it (the two are not told apart)."""


@strawberry.type
class ValidationError(UserError):
    field: str | None = None


@strawberry.type
class ForbiddenError(UserError):
    required_scope: str


@strawberry.type(
    name="TrackerError",
    description="The tracker could not be reached or refused; `retryAfter` says when to try again.",
)
class TrackerFailure(UserError):
    retry_after: float | None = None


@strawberry.type(description="The config names statuses the tracker does not have.")
class UnknownStatusError(UserError):
    field: str | None
    unknown: list[str]
    valid_statuses: list[str] = strawberry.field(description="The statuses the tracker has.")


@overload
def user_error(exc: errors.Upstream, field: str | None = None) -> ValidationError | TrackerFailure: ...
@overload
def user_error(exc: errors.NotFound, field: str | None = None) -> NotFoundError: ...
@overload
def user_error(exc: errors.Forbidden, field: str | None = None) -> ForbiddenError: ...
@overload
def user_error(exc: errors.Invalid, field: str | None = None) -> ValidationError: ...
@overload
def user_error(exc: errors.ConduitError, field: str | None = None) -> UserError: ...
def user_error(exc: errors.ConduitError, field: str | None = None) -> UserError:
    """The GraphQL error type for an expected failure; `field` is the argument it concerns, if the error
    does not name one itself.

    An upstream failure comes first, whatever else it also is: when the other side refused what the
    caller sent (a 4xx that is not a rate limit: no such ticket, no access to it, a malformed key) the
    caller must change it, a `ValidationError`; otherwise (unreachable, 5xx, rate limited) it is a
    `TrackerError` the caller may retry, after `retryAfter` when the tracker said.
    """
    if isinstance(exc, errors.Upstream):
        retry_after = getattr(exc, "retry_after", None)
        status = getattr(exc, "status", None)
        if retry_after is None and isinstance(status, int) and 400 <= status < 500 and status != 429:
            return ValidationError(message=exc.message, field=field)
        return TrackerFailure(message=exc.message, retry_after=retry_after)
    if isinstance(exc, errors.NotFound):
        return NotFoundError(message=exc.message)
    if isinstance(exc, errors.Forbidden):
        # A refusal that names no scope: only an admin token is never refused.
        return ForbiddenError(message=exc.message, required_scope=exc.required_scope or tokens.ADMIN)
    if isinstance(exc, errors.Invalid):
        return ValidationError(message=exc.message, field=exc.field if exc.field is not None else field)
    return ValidationError(message=exc.message, field=field)


class MissingScope(GraphQLError):
    """A query field the token may not read: FORBIDDEN, naming the scope (`extensions.requiredScope`)."""

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"this token lacks the `{scope}` scope", extensions={"code": "FORBIDDEN", "requiredScope": scope}
        )


class BadInput(GraphQLError):
    """Input the client must change: says what was wrong, and names the argument when there is one."""

    def __init__(self, message: str, argument: str | None = None) -> None:
        extensions: dict[str, object] = {"code": "BAD_USER_INPUT"}
        if argument is not None:
            extensions["argument"] = argument
        super().__init__(message, extensions=extensions)


def decoded_id(global_id: str, argument: str) -> tuple[str, int]:
    """A global id argument as (type name, pk); BAD_USER_INPUT naming the argument when it is not one."""
    try:
        return ids.decode(global_id)
    except ids.InvalidId as exc:
        raise BadInput(str(exc), argument=argument) from None


def decoded_pk(global_id: str, type_name: str, argument: str) -> int:
    """The pk of a `type_name` id argument; BAD_USER_INPUT naming the argument when it is not one."""
    try:
        return ids.decode_as(global_id, type_name)
    except ids.InvalidId as exc:
        raise BadInput(str(exc), argument=argument) from None
