"""Expected failures. Mutations return them as union members; queries raise the GraphQLError forms."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from conduit import ids


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


class Forbidden(GraphQLError):
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
