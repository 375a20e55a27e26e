"""Signing in to the console, as the API offers it: one-time links issued by admins, a member's own
password, and the sessions a member (or an admin) can see and revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from conduit import errors, ids
from conduit.auth import members, passwords, sessions, throttle
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, NotFoundError, ValidationError, user_error
from conduit.schema.organization import Member
from conduit.schema.permissions import can, forbidden, require
from conduit.schema.sessions import MemberSession

NOT_A_MEMBER = "only a member signed in to the console has a password and sessions"


@strawberry.type
class CreateSignInLinkPayload:
    url: str = strawberry.field(description="The link. Shown once, works once, and only until `expiresAt`.")
    expires_at: datetime
    member: Member


@strawberry.type
class SetPasswordPayload:
    member: Member


@strawberry.type
class RevokeSessionPayload:
    session: MemberSession


CreateSignInLinkResult = Annotated[
    CreateSignInLinkPayload | NotFoundError | ForbiddenError, strawberry.union("CreateSignInLinkResult")
]
SetPasswordResult = Annotated[
    SetPasswordPayload | ValidationError | ForbiddenError, strawberry.union("SetPasswordResult")
]
RevokeSessionResult = Annotated[RevokeSessionPayload | NotFoundError, strawberry.union("RevokeSessionResult")]


@strawberry.type
class SessionQuery:
    @strawberry.field(
        description="Console sessions, newest first (at most 100): the signed-in member's own, or with "
        "`memberId` (and `admin`) another member's. Empty for API tokens and apps without `memberId`."
    )
    async def sessions(self, info: Info, member_id: strawberry.ID | None = None) -> list[MemberSession]:
        viewer = info.context.viewer
        if member_id is None:
            target = viewer.member_id
        else:
            target = ids.pk_or_none(member_id, "Member")
            if target != viewer.member_id:
                require(info, "admin")
        if target is None:
            return []
        async with info.context.runtime.sessions() as session:
            rows = await sessions.of_member(session, viewer.organization_id, target)
        return [MemberSession.from_model(row, viewer.session_id) for row in rows]


@strawberry.type
class SessionMutation:
    @strawberry.mutation(
        description="A one-time link that signs the member in to the console, valid for 15 minutes. "
        "Needs `admin`."
    )
    async def create_sign_in_link(self, info: Info, member_id: strawberry.ID) -> CreateSignInLinkResult:
        if err := forbidden(info, "admin"):
            return err
        pk = ids.pk_or_none(member_id, "Member")
        viewer = info.context.viewer
        async with info.context.runtime.sessions() as session:
            row = await TenantScope(session, viewer.organization_id).get(models.Member, pk) if pk else None
            if row is None:
                return NotFoundError(message="member not found")
            link, value = await members.issue_link(session, row)
            url = members.link_url(info.context.runtime.settings.public_url, value)
            return CreateSignInLinkPayload(url=url, expires_at=link.expires_at, member=Member.from_model(row))

    @strawberry.mutation(
        description="Set the signed-in member's password (12 to 1024 characters). `current` is needed once "
        "a password is set. Ends the member's other sessions."
    )
    async def set_password(
        self,
        info: Info,
        current: str,
        new: Annotated[str, strawberry.argument(name="new")],
    ) -> SetPasswordResult:
        viewer = info.context.viewer
        if viewer.member_id is None:
            return ForbiddenError(message=NOT_A_MEMBER, required_scope="member")
        try:
            passwords.check_policy(new)
        except errors.Invalid as exc:
            return user_error(exc, field="new")
        limit = throttle.password_change(viewer.member_id)
        async with info.context.runtime.sessions() as session:
            wait = await throttle.retry_after(session, (limit,))
            if wait is not None:
                return ValidationError(
                    message=f"too many wrong current passwords: try again in {wait} seconds", field="current"
                )
            row = await TenantScope(session, viewer.organization_id).get(models.Member, viewer.member_id)
            if row is None:
                return ForbiddenError(message=NOT_A_MEMBER, required_scope="member")
            try:
                await members.set_password(session, row, current, new, keep_session=viewer.session_id)
            except errors.Invalid as exc:
                await session.rollback()
                if exc.field == "current":
                    await throttle.record_failure(session, (limit,))
                return user_error(exc)
            return SetPasswordPayload(member=Member.from_model(row))

    @strawberry.mutation(
        description="End a console session at once: one of the signed-in member's own, or with `admin` any "
        "member's. Revoking a revoked session changes nothing."
    )
    async def revoke_session(self, info: Info, id: strawberry.ID) -> RevokeSessionResult:
        viewer = info.context.viewer
        pk = ids.pk_or_none(id, "MemberSession")
        async with info.context.runtime.sessions() as session:
            row = (
                await TenantScope(session, viewer.organization_id).get(models.MemberSession, pk)
                if pk
                else None
            )
            if row is None or (row.member_id != viewer.member_id and not can(info, "admin")):
                # Another member's session is not told apart from one that does not exist.
                return NotFoundError(message="session not found")
            await sessions.revoke(session, row)
            return RevokeSessionPayload(session=MemberSession.from_model(row, viewer.session_id))
