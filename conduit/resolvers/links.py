"""Linking issues to tickets: create (idempotent, finished by a job), link an existing key, unlink."""

from __future__ import annotations

from typing import Annotated

import strawberry

from conduit import errors, ids
from conduit.db import models
from conduit.db.models.integrations import TicketRequest as TicketRequestRow
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, NotFoundError, TrackerFailure, ValidationError, user_error
from conduit.schema.permissions import forbidden, require
from conduit.schema.trackers import IssueLink, TicketRequest
from conduit.sync import links
from conduit.sync.jobs import queue_webhook


@strawberry.type
class CreateExternalIssuePayload:
    request: TicketRequest


@strawberry.type
class LinkExternalIssuePayload:
    link: IssueLink


@strawberry.type
class UnlinkExternalIssuePayload:
    link_id: strawberry.ID


CreateExternalIssueResult = Annotated[
    CreateExternalIssuePayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("CreateExternalIssueResult"),
]
LinkExternalIssueResult = Annotated[
    LinkExternalIssuePayload | ValidationError | NotFoundError | ForbiddenError | TrackerFailure,
    strawberry.union("LinkExternalIssueResult"),
]
UnlinkExternalIssueResult = Annotated[
    UnlinkExternalIssuePayload | NotFoundError | ForbiddenError | ValidationError,
    strawberry.union("UnlinkExternalIssueResult"),
]


async def _issue_and_installation(
    scope: TenantScope, issue_id: str, installation_id: str
) -> tuple[models.Issue, models.Installation] | NotFoundError:
    issue_pk, installation_pk = (
        ids.pk_or_none(issue_id, "Issue"),
        ids.pk_or_none(installation_id, "Installation"),
    )
    issue = await scope.get(models.Issue, issue_pk) if issue_pk else None
    if issue is None:
        return NotFoundError(message="issue not found")
    installation = await scope.get(models.Installation, installation_pk) if installation_pk else None
    if installation is None:
        return NotFoundError(message="installation not found")
    return issue, installation


@strawberry.type
class LinkQuery:
    @strawberry.field(description="A ticket being created from an issue.")
    async def ticket_request(self, info: Info, id: strawberry.ID) -> TicketRequest | None:
        require(info, "issue:read")
        pk = ids.pk_or_none(id, "TicketRequest")
        if pk is None:
            return None
        async with info.context.runtime.sessions() as session:
            row = await TenantScope(session, info.context.viewer.organization_id).get(TicketRequestRow, pk)
        return TicketRequest.from_model(row) if row else None


@strawberry.type
class LinkMutation:
    @strawberry.mutation(
        description="Create a ticket from an issue, prefilled from it and linking back. `target` is the "
        "repository (owner/name) for GitHub, the project key for Jira. Submitting the same issue, "
        "installation and target again returns the same request: never two tickets."
    )
    async def create_external_issue(
        self,
        info: Info,
        issue_id: strawberry.ID,
        installation_id: strawberry.ID,
        target: str,
        title: str | None = None,
        description: str | None = None,
    ) -> CreateExternalIssueResult:
        if err := forbidden(info, "issue:write"):
            return err
        if not target.strip() or len(target) > 300:
            return ValidationError(
                message="target must name a repository (owner/name) or a project key", field="target"
            )
        if title is not None and not title.strip():
            return ValidationError(message="title must not be blank", field="title")
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, info.context.viewer.organization_id)
            found = await _issue_and_installation(scope, issue_id, installation_id)
            if isinstance(found, NotFoundError):
                return found
            issue, installation = found
            try:
                links.usable(installation)
            except links.LinkError as exc:
                return user_error(exc, field="installationId")
            request = await links.request_ticket(session, issue, installation, target, title, description)
            await session.commit()
            return CreateExternalIssuePayload(request=TicketRequest.from_model(request))

    @strawberry.mutation(description="Link an existing ticket (`owner/name#12`, `OPS-7`) to an issue.")
    async def link_external_issue(
        self, info: Info, issue_id: strawberry.ID, installation_id: strawberry.ID, key: str
    ) -> LinkExternalIssueResult:
        if err := forbidden(info, "issue:write"):
            return err
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, info.context.viewer.organization_id)
            found = await _issue_and_installation(scope, issue_id, installation_id)
            if isinstance(found, NotFoundError):
                return found
            issue, installation = found
            try:
                links.usable(installation)
                link, external = await links.link_existing(
                    info.context.runtime, session, issue, installation, key
                )
            except links.LinkError as exc:
                return user_error(exc, field="key")
            except errors.Upstream as exc:
                return user_error(exc, field="key")
            queue_webhook(
                session,
                issue.organization_id,
                installation.id,
                links.scope_of(installation.provider, external.key),
            )
            await session.commit()
            return LinkExternalIssuePayload(link=IssueLink.from_models(link, external))

    @strawberry.mutation(description="Remove a link; the ticket itself is left as it is.")
    async def unlink_external_issue(self, info: Info, link_id: strawberry.ID) -> UnlinkExternalIssueResult:
        if err := forbidden(info, "issue:write"):
            return err
        pk = ids.pk_or_none(link_id, "IssueLink")
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, info.context.viewer.organization_id)
            link = await scope.get(models.IssueLink, pk) if pk else None
            if link is None:
                return NotFoundError(message="link not found")
            await links.unlink(session, link)
            await session.commit()
        return UnlinkExternalIssuePayload(link_id=link_id)
