"""Member mutations."""

from __future__ import annotations

import re
from typing import Annotated

import strawberry
from sqlalchemy.exc import IntegrityError

from conduit.db import models
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, ValidationError
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
