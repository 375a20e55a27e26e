"""Scope checks, shared by queries (which raise) and mutations (which return a typed error)."""

from __future__ import annotations

from conduit.schema.context import Info
from conduit.schema.errors import Forbidden, ForbiddenError


def require(info: Info, scope: str) -> None:
    if not info.context.viewer.can(scope):
        raise Forbidden(scope)


def forbidden(info: Info, scope: str) -> ForbiddenError | None:
    """A ForbiddenError to return from a mutation when the scope is missing, else None."""
    if info.context.viewer.can(scope):
        return None
    return ForbiddenError(message=f"this token lacks the `{scope}` scope", required_scope=scope)
