"""Creating an organization, a project, an admin token and a DSN in one step."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth import tokens
from conduit.db.models import ApiToken, Organization, Project, ProjectKey


@dataclass(frozen=True)
class BootstrapResult:
    organization_id: int
    project_id: int
    token: str
    dsn: str


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:100] or "default"


def dsn_for(public_url: str, public_key: str, project_id: int) -> str:
    scheme, _, rest = public_url.rstrip("/").partition("://")
    return f"{scheme}://{public_key}@{rest}/{project_id}"


def new_public_key() -> str:
    return secrets.token_hex(16)


async def get_or_create_org(session: AsyncSession, name: str) -> Organization:
    slug = slugify(name)
    org = (await session.execute(select(Organization).where(Organization.slug == slug))).scalar_one_or_none()
    if org is None:
        org = Organization(name=name, slug=slug)
        session.add(org)
        await session.flush()
    return org


async def get_or_create_project(session: AsyncSession, org: Organization, name: str) -> Project:
    slug = slugify(name)
    stmt = select(Project).where(Project.organization_id == org.id, Project.slug == slug)
    project = (await session.execute(stmt)).scalar_one_or_none()
    if project is None:
        project = Project(organization_id=org.id, name=name, slug=slug)
        session.add(project)
        await session.flush()
    return project


async def project_key(session: AsyncSession, project: Project) -> ProjectKey:
    stmt = select(ProjectKey).where(ProjectKey.project_id == project.id, ProjectKey.is_active.is_(True))
    key = (await session.execute(stmt.order_by(ProjectKey.id))).scalars().first()
    if key is None:
        key = ProjectKey(
            organization_id=project.organization_id, project_id=project.id, public_key=new_public_key()
        )
        session.add(key)
        await session.flush()
    return key


def mint_token(
    session: AsyncSession, organization_id: int, name: str, scopes: list[str]
) -> tuple[ApiToken, str]:
    value = tokens.generate()
    row = ApiToken(
        organization_id=organization_id,
        name=name,
        token_hash=tokens.hash_token(value),
        prefix=tokens.display_prefix(value),
        scopes=tokens.validate_scopes(scopes),
    )
    session.add(row)
    return row, value


async def bootstrap(
    session: AsyncSession, org_name: str, project_name: str, public_url: str
) -> BootstrapResult:
    """Idempotent for the org and project; every call mints a fresh admin token."""
    try:
        org = await get_or_create_org(session, org_name)
        project = await get_or_create_project(session, org, project_name)
        key = await project_key(session, project)
        _, value = mint_token(session, org.id, "bootstrap", [tokens.ADMIN])
        await session.commit()
    except IntegrityError:
        # Another bootstrap won the race; what it created is now there to be found.
        await session.rollback()
        return await bootstrap(session, org_name, project_name, public_url)
    return BootstrapResult(org.id, project.id, value, dsn_for(public_url, key.public_key, project.id))
