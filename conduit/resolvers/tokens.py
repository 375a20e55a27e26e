"""API token mutations. A token can mint, and revoke, only tokens whose scopes it holds itself."""

from __future__ import annotations

from typing import Annotated

import strawberry

from conduit import errors, ids
from conduit.auth import bearer, tokens
from conduit.bootstrap import mint_token
from conduit.db import models
from conduit.db.base import utcnow
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, NotFoundError, ValidationError, user_error
from conduit.schema.organization import ApiToken
from conduit.schema.permissions import forbidden


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[str]


@strawberry.type
class CreateApiTokenPayload:
    token: ApiToken
    value: str = strawberry.field(description="The token itself. Shown once: store it now.")


@strawberry.type
class RevokeApiTokenPayload:
    token: ApiToken


CreateApiTokenResult = Annotated[
    CreateApiTokenPayload | ValidationError | ForbiddenError, strawberry.union("CreateApiTokenResult")
]
RevokeApiTokenResult = Annotated[
    RevokeApiTokenPayload | NotFoundError | ForbiddenError, strawberry.union("RevokeApiTokenResult")
]


@strawberry.type
class TokenMutation:
    @strawberry.mutation
    async def create_api_token(self, info: Info, input: CreateApiTokenInput) -> CreateApiTokenResult:
        if err := forbidden(info, "token:write"):
            return err
        name = input.name.strip()
        if not 1 <= len(name) <= 200:
            return ValidationError(message="name must be 1 to 200 characters", field="name")
        try:
            scopes = tokens.validate_scopes(input.scopes)
        except errors.Invalid as exc:
            return user_error(exc, field="scopes")
        viewer = info.context.viewer
        beyond = [s for s in scopes if not viewer.can(s)]
        if beyond:
            return ForbiddenError(
                message=f"cannot grant scopes this token lacks: {', '.join(beyond)}", required_scope=beyond[0]
            )
        async with info.context.runtime.sessions() as session:
            row, value = mint_token(session, viewer.organization_id, name, scopes)
            row.created_by_id = viewer.token_id
            await session.commit()
        return CreateApiTokenPayload(token=ApiToken.from_model(row), value=value)

    @strawberry.mutation(
        description="Revoke a token at once; needs every scope the token holds. Revoking a revoked token "
        "changes nothing."
    )
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> RevokeApiTokenResult:
        if err := forbidden(info, "token:write"):
            return err
        pk = ids.pk_or_none(id, "ApiToken")
        if pk is None:
            return NotFoundError(message="token not found")
        viewer = info.context.viewer
        async with info.context.runtime.sessions() as session:
            row = await TenantScope(session, viewer.organization_id).get(models.ApiToken, pk)
            if row is None:
                return NotFoundError(message="token not found")
            # Revoking is taking power away: only a token holding all of the target's scopes may do it,
            # as only such a token could have minted it.
            beyond = [s for s in row.scopes if not viewer.can(s)]
            if beyond:
                return ForbiddenError(
                    message=f"cannot revoke a token with scopes this token lacks: {', '.join(beyond)}",
                    required_scope=beyond[0],
                )
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                await session.commit()
                bearer.forget_token(info.context.runtime, row.id)
        return RevokeApiTokenPayload(token=ApiToken.from_model(row))
