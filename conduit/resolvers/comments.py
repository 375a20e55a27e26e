"""Commenting on an issue: stored, announced as `comment.created` (which sync out also acts on)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from conduit import ids
from conduit.db import models
from conduit.db.models.comments import MAX_BODY
from conduit.db.models.comments import Comment as CommentRow
from conduit.db.tenancy import TenantScope
from conduit.events.emit import emit
from conduit.schema.context import Info
from conduit.schema.errors import ForbiddenError, NotFoundError, ValidationError
from conduit.schema.issues import Comment
from conduit.schema.permissions import forbidden


@strawberry.type
class AddCommentPayload:
    comment: Comment


AddCommentResult = Annotated[
    AddCommentPayload | ValidationError | NotFoundError | ForbiddenError, strawberry.union("AddCommentResult")
]


def body_problem(body: str) -> str | None:
    if not body.strip():
        return "the comment is empty"
    if len(body) > MAX_BODY:
        return f"the comment is {len(body)} characters long; at most {MAX_BODY} are allowed"
    return None


@strawberry.type
class CommentMutation:
    @strawberry.mutation(
        description=f"Comment on an issue (1 to {MAX_BODY} characters). Linked tickets get the comment "
        "too where their installation syncs comments out."
    )
    async def add_comment(self, info: Info, issue_id: strawberry.ID, body: str) -> AddCommentResult:
        if err := forbidden(info, "issue:write"):
            return err
        if problem := body_problem(body):
            return ValidationError(message=problem, field="body")
        try:
            issue_pk = ids.decode_as(issue_id, "Issue")
        except ids.InvalidId as exc:
            return ValidationError(message=str(exc), field="issueId")
        org_id = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            issue = await TenantScope(session, org_id).get(models.Issue, issue_pk)
            if issue is None:
                return NotFoundError(message="issue not found")
            row = CommentRow(organization_id=org_id, issue_id=issue.id, body=body)
            session.add(row)
            await session.flush()
            # Ids only: the fan-out loads the comment itself, and sync out reads its body by id.
            data = {"issue_id": issue.id, "project_id": issue.project_id, "comment_id": row.id}
            emit(session, "comment.created", org_id, data, actor=info.context.viewer.actor)
            await session.commit()
            return AddCommentPayload(comment=Comment.from_model(row))
