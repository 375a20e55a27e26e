"""Project mutations: creating a project (`project:write`) and setting its quota (`admin`)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.exc import IntegrityError

from conduit import ids, quotas
from conduit.bootstrap import dsn_for, new_public_key, slugify
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.ingest.auth import forget_project
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, NotFoundError, ValidationError
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
class SetProjectRateLimitPayload:
    project: Project


SetProjectRateLimitResult = Annotated[
    SetProjectRateLimitPayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("SetProjectRateLimitResult"),
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

    @strawberry.mutation(
        description="Set how many events per minute each of the project's DSN keys may send (1 to "
        f"{quotas.MAX_RATE_LIMIT}), or null for the server's default. Takes `admin`: a quota is the "
        "operator's protection, not a project setting."
    )
    async def set_project_rate_limit(
        self, info: Info, project_id: strawberry.ID, ingest_rate_limit: int | None
    ) -> SetProjectRateLimitResult:
        if err := forbidden(info, "admin"):
            return err
        if ingest_rate_limit is not None:
            try:
                quotas.check_limit(ingest_rate_limit)
            except ValueError as exc:
                return ValidationError(message=str(exc), field="ingestRateLimit")
        pk = ids.pk_or_none(project_id, "Project")
        if pk is None:
            return NotFoundError(message="project not found")
        async with info.context.runtime.sessions() as session:
            project = await TenantScope(session, info.context.viewer.organization_id).get(models.Project, pk)
            if project is None:
                return NotFoundError(message="project not found")
            project.ingest_rate_limit = ingest_rate_limit
            await session.commit()
            # Ingest caches each key's quota: the next event this process takes reads the new one.
            forget_project(info.context.runtime, project.id)
            return SetProjectRateLimitPayload(project=Project.from_model(project))
