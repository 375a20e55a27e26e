"""Issue mutations: status changes and assignment, each emitting its catalog event."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from conduit import ids
from conduit.db import models
from conduit.db.base import utcnow
from conduit.db.tenancy import TenantScope
from conduit.events.emit import emit
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, NotFoundError, ValidationError
from conduit.schema.issues import Issue, IssueStatus
from conduit.schema.permissions import forbidden

STATUS_EVENTS = {
    models.IssueStatus.RESOLVED: "issue.resolved",
    models.IssueStatus.UNRESOLVED: "issue.unresolved",
    models.IssueStatus.IGNORED: "issue.ignored",
}


@strawberry.input
class UpdateIssueInput:
    id: strawberry.ID
    status: IssueStatus | None = None
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="A Member id to assign, or null to unassign; omit to leave as is.",
    )


@strawberry.type
class UpdateIssuePayload:
    issue: Issue


UpdateIssueResult = Annotated[
    UpdateIssuePayload | NotFoundError | ValidationError | ForbiddenError,
    strawberry.union("UpdateIssueResult"),
]


def actor_of(info: Info) -> dict[str, Any]:
    return info.context.viewer.actor


@strawberry.type
class IssueMutation:
    @strawberry.mutation(description="Resolve, unresolve or ignore an issue, and/or assign it to a member.")
    async def update_issue(self, info: Info, input: UpdateIssueInput) -> UpdateIssueResult:
        if err := forbidden(info, "issue:write"):
            return err
        try:
            issue_pk = ids.decode_as(input.id, "Issue")
        except ids.InvalidId as exc:
            return ValidationError(message=str(exc), field="id")
        assignee_pk = None
        if input.assignee_id is not strawberry.UNSET and input.assignee_id is not None:
            try:
                assignee_pk = ids.decode_as(input.assignee_id, "Member")
            except ids.InvalidId as exc:
                return ValidationError(message=str(exc), field="assigneeId")
        org_id = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, org_id)
            row = (
                await session.execute(
                    scope.select(models.Issue).where(models.Issue.id == issue_pk).with_for_update()
                )
            ).scalar_one_or_none()
            if row is None:
                return NotFoundError(message="issue not found")
            data = {"issue_id": row.id, "project_id": row.project_id}
            if input.status is not None and row.status != models.IssueStatus(input.status.value):
                row.status = models.IssueStatus(input.status.value)
                row.resolved_at = utcnow() if row.status == models.IssueStatus.RESOLVED else None
                emit(session, STATUS_EVENTS[row.status], org_id, data, actor=actor_of(info))
            if input.assignee_id is not strawberry.UNSET and row.assignee_id != assignee_pk:
                if assignee_pk is not None and await scope.get(models.Member, assignee_pk) is None:
                    return ValidationError(message="member not found", field="assigneeId")
                row.assignee_id = assignee_pk
                emit(
                    session,
                    "issue.assigned",
                    org_id,
                    {**data, "assignee_id": assignee_pk},
                    actor=actor_of(info),
                )
            await session.commit()
        return UpdateIssuePayload(issue=Issue.from_model(row))
