"""Expected failures. Mutations return them as union members; queries raise the GraphQLError forms."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError


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
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})
