"""Member mutations. A new role or a removal ends the member's console sessions (conduit.auth.members)."""

from __future__ import annotations

import re
from typing import Annotated

import strawberry
from sqlalchemy.exc import IntegrityError

from conduit import errors, ids
from conduit.auth import members
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, NotFoundError, ValidationError, user_error
from conduit.schema.organization import Member, MemberRole
from conduit.schema.permissions import forbidden

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


@strawberry.input
class AddMemberInput:
    email: str
    name: str = ""
    role: MemberRole = MemberRole.MEMBER


@strawberry.type
class AddMemberPayload:
    member: Member


@strawberry.type
class SetMemberRolePayload:
    member: Member


@strawberry.type
class RemoveMemberPayload:
    removed_id: strawberry.ID


SetMemberRoleResult = Annotated[
    SetMemberRolePayload | NotFoundError | ValidationError | ForbiddenError,
    strawberry.union("SetMemberRoleResult"),
]
RemoveMemberResult = Annotated[
    RemoveMemberPayload | NotFoundError | ValidationError | ForbiddenError,
    strawberry.union("RemoveMemberResult"),
]

AddMemberResult = Annotated[
    AddMemberPayload | ValidationError | ForbiddenError, strawberry.union("AddMemberResult")
]


@strawberry.type
class MemberMutation:
    @strawberry.mutation
    async def add_member(self, info: Info, input: AddMemberInput) -> AddMemberResult:
        if err := forbidden(info, "member:write"):
            return err
        if input.role is not MemberRole.MEMBER and (err := forbidden(info, "admin")):
            return err
        email = input.email.strip().lower()
        if not EMAIL.match(email):
            return ValidationError(message=f"{input.email!r} is not an email address", field="email")
        if len(input.name) > 200:
            return ValidationError(message="name must be at most 200 characters", field="name")
        async with info.context.runtime.sessions() as session:
            row = models.Member(
                organization_id=info.context.viewer.organization_id,
                email=email,
                name=input.name.strip(),
                role=models.MemberRole(input.role.value),
            )
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                return ValidationError(message=f"{email} is a member already", field="email")
        return AddMemberPayload(member=Member.from_model(row))

    @strawberry.mutation(
        description="Change a member's role. Needs `admin`; an organization keeps at least one owner. Ends "
        "the member's console sessions, so their new rights apply at once."
    )
    async def set_member_role(self, info: Info, id: strawberry.ID, role: MemberRole) -> SetMemberRoleResult:
        if err := forbidden(info, "admin"):
            return err
        pk = ids.pk_or_none(id, "Member")
        async with info.context.runtime.sessions() as session:
            row = (
                await TenantScope(session, info.context.viewer.organization_id).get(models.Member, pk)
                if pk
                else None
            )
            if row is None:
                return NotFoundError(message="member not found")
            try:
                await members.change_role(session, row, models.MemberRole(role.value))
            except errors.Invalid as exc:
                return user_error(exc, field="role")
            return SetMemberRolePayload(member=Member.from_model(row))

    @strawberry.mutation(
        description="Remove a member from the organization, ending their console sessions. Needs `admin`; "
        "an organization keeps at least one owner."
    )
    async def remove_member(self, info: Info, id: strawberry.ID) -> RemoveMemberResult:
        if err := forbidden(info, "admin"):
            return err
        pk = ids.pk_or_none(id, "Member")
        async with info.context.runtime.sessions() as session:
            row = (
                await TenantScope(session, info.context.viewer.organization_id).get(models.Member, pk)
                if pk
                else None
            )
            if row is None:
                return NotFoundError(message="member not found")
            try:
                await members.remove(session, row)
            except errors.Invalid as exc:
                return user_error(exc, field="id")
        return RemoveMemberPayload(removed_id=id)
