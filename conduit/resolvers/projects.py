"""Project mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.exc import IntegrityError

from conduit.bootstrap import dsn_for, new_public_key, slugify
from conduit.db import models
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, ValidationError
from conduit.schema.organization import Project
from conduit.schema.permissions import forbidden


@strawberry.input
class CreateProjectInput:
    name: str
    platform: str | None = None


@strawberry.type
class CreateProjectPayload:
    project: Project
    dsn: str


CreateProjectResult = Annotated[
    CreateProjectPayload | ValidationError | ForbiddenError, strawberry.union("CreateProjectResult")
]


@strawberry.type
class ProjectMutation:
    @strawberry.mutation
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectResult:
        if err := forbidden(info, "project:write"):
            return err
        name = input.name.strip()
        if not 1 <= len(name) <= 200:
            return ValidationError(message="name must be 1 to 200 characters", field="name")
        if input.platform is not None and len(input.platform) > 64:
            return ValidationError(message="platform must be at most 64 characters", field="platform")
        org_id = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            project = models.Project(
                organization_id=org_id, name=name, slug=slugify(name), platform=input.platform
            )
            session.add(project)
            try:
                await session.flush()
            except IntegrityError:
                return ValidationError(
                    message=f"a project with the slug {project.slug!r} exists already", field="name"
                )
            key = models.ProjectKey(
                organization_id=org_id, project_id=project.id, public_key=new_public_key()
            )
            session.add(key)
            await session.commit()
        dsn = dsn_for(info.context.runtime.settings.public_url, key.public_key, project.id)
        return CreateProjectPayload(project=Project.from_model(project), dsn=dsn)
