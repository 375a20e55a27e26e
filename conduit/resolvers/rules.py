"""Automation rules: list, read, create, update, switch on and off, delete, preview; the firing log.

Reading rules and their log takes `project:read`; changing them `project:write`. A rule that makes
tickets does what `createExternalIssue` does, so saving one also takes `issue:write`, and previewing
one (which shows issue titles in the tickets it would make) takes `issue:read`. Validation errors name
the input field (`input.installationId`, `input.ticketTitle`, ...) so a form can show them in place.
The preview is a mutation for its typed errors, like every other rule operation; it writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry

from conduit import errors, ids
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.rules import firings, preview, service
from conduit.rules.definition import Filters, RuleSpec
from conduit.schema.context import Info
from conduit.schema.errors import (
    BadInput,
    ForbiddenError,
    NotFoundError,
    TrackerFailure,
    UnknownStatusError,
    ValidationError,
    user_error,
)
from conduit.schema.pagination import Connection, Page, connection, page_size, position
from conduit.schema.permissions import forbidden, require
from conduit.schema.rules import (
    FIRING_SORT,
    RULE_SORT,
    FiringOutcome,
    Rule,
    RuleFiring,
    RulePreview,
    RulePreviewMatch,
    RuleTrigger,
)

MAX_PREVIEW_SPAN = firings.RETENTION


@strawberry.input
class RuleTagInput:
    key: str
    value: str


@strawberry.input(description="A rule as a whole; `updateRule` replaces the rule with it.")
class RuleInput:
    name: str
    trigger: RuleTrigger
    threshold: int | None = strawberry.field(
        default=None, description="EVENT_RATE, EVENTS_SINCE_TICKET: fire above this many events."
    )
    window_seconds: int | None = strawberry.field(
        default=None, description="EVENT_RATE: the window, 60 to 86,400 seconds."
    )
    levels: list[str] = strawberry.field(default_factory=list)
    environments: list[str] = strawberry.field(default_factory=list)
    releases: list[str] = strawberry.field(default_factory=list)
    tags: list[RuleTagInput] = strawberry.field(default_factory=list)
    text: str | None = strawberry.field(default=None, description="Found in the title or the culprit.")
    installation_id: strawberry.ID | None = strawberry.field(
        default=None, description="Make tickets in this tracker installation (with `target`)."
    )
    target: str | None = strawberry.field(
        default=None, description="A repository (owner/name) or project key."
    )
    ticket_title: str | None = strawberry.field(
        default=None,
        description="A template: `{title}`, `{culprit}`, `{level}`, `{count}`, `{first_seen}`, "
        "`{last_seen}`, `{link}`, `{stacktrace}`, `{environment}`, `{release}`, `{project}`. "
        "Trimmed to 250 characters.",
    )
    ticket_description: str | None = strawberry.field(
        default=None, description="A template with the same fields; trimmed to 30,000 characters."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Assign the issue (and so its ticket) to this member when the ticket is made.",
    )
    ticket_labels: list[str] = strawberry.field(
        default_factory=list,
        description="Labels on the tickets the rule makes, by name (at most 10, each 1 to 50 characters, "
        "no commas). Trackers that label by name get them as given, Jira with spaces as dashes.",
    )
    comment_milestones: bool = True
    max_tickets_per_hour: int = 10
    enabled: bool = True


@strawberry.type
class RulePayload:
    rule: Rule


@strawberry.type
class DeleteRulePayload:
    rule_id: strawberry.ID


RuleResult = Annotated[
    RulePayload | ValidationError | UnknownStatusError | NotFoundError | ForbiddenError | TrackerFailure,
    strawberry.union("RuleResult"),
]
DeleteRuleResult = Annotated[
    DeleteRulePayload | NotFoundError | ForbiddenError, strawberry.union("DeleteRuleResult")
]
PreviewRuleResult = Annotated[
    RulePreview | ValidationError | NotFoundError | ForbiddenError, strawberry.union("PreviewRuleResult")
]


def spec_of(input: RuleInput) -> RuleSpec:
    """The input as a spec (not yet checked); an `Invalid` naming the field for an id that is not one."""

    def pk(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
        if value is None:
            return None
        try:
            return ids.decode_as(value, type_name)
        except ids.InvalidId as exc:
            raise errors.Invalid(str(exc), field) from None

    tags = {t.key: t.value for t in input.tags}
    if len(tags) != len(input.tags):
        raise errors.Invalid("each tag key may be given once", "tags")
    return RuleSpec(
        name=input.name,
        trigger=models.RuleTrigger(input.trigger.value),
        threshold=input.threshold,
        window_seconds=input.window_seconds,
        filters=Filters(
            tuple(input.levels), tuple(input.environments), tuple(input.releases), tags, input.text
        ),
        installation_id=pk(input.installation_id, "Installation", "installationId"),
        target=input.target,
        title_template=input.ticket_title,
        description_template=input.ticket_description,
        assignee_id=pk(input.assignee_id, "Member", "assigneeId"),
        labels=tuple(input.ticket_labels),
        comment_milestones=input.comment_milestones,
        max_tickets_per_hour=input.max_tickets_per_hour,
        enabled=input.enabled,
    )


def _saving(
    exc: errors.ConduitError,
) -> ValidationError | UnknownStatusError | NotFoundError | ForbiddenError | TrackerFailure:
    """`_in_input`, with the statuses a rule's tracker lacks as their own type, listing both."""
    if isinstance(exc, service.StatusMissing):
        return UnknownStatusError(
            message=exc.message, field=f"input.{exc.field}", unknown=exc.unknown, valid_statuses=exc.valid
        )
    return _in_input(exc)


def _in_input(exc: errors.ConduitError) -> ValidationError | NotFoundError | ForbiddenError | TrackerFailure:
    """A ConduitError as its GraphQL type, a field of the input named as `input.<field>`."""
    if isinstance(exc, errors.Invalid) and exc.field is not None:
        return ValidationError(message=exc.message, field=f"input.{exc.field}")
    if isinstance(exc, errors.Upstream):
        return user_error(exc)
    if isinstance(exc, errors.NotFound):
        return user_error(exc)
    if isinstance(exc, errors.Forbidden):
        return user_error(exc)
    return ValidationError(message=exc.message)


def _tickets_scope(info: Info, input: RuleInput) -> ForbiddenError | None:
    return forbidden(info, "issue:write") if input.installation_id is not None else None


async def _own_rule(scope: TenantScope, rule_id: strawberry.ID) -> models.Rule | None:
    pk = ids.pk_or_none(rule_id, "Rule")
    return await scope.get(models.Rule, pk) if pk else None


@strawberry.type
class RuleQuery:
    @strawberry.field(description="A rule of this organization.")
    async def rule(self, info: Info, id: strawberry.ID) -> Rule | None:
        require(info, "project:read")
        async with info.context.runtime.sessions() as session:
            row = await _own_rule(TenantScope(session, info.context.viewer.organization_id), id)
        return Rule.from_model(row) if row else None

    @strawberry.field(description="The organization's rules, or one project's, oldest first.")
    async def rules(
        self,
        info: Info,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Rule]:
        require(info, "project:read")
        n, start = page_size(first), position(RULE_SORT, after)
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, info.context.viewer.organization_id)
            stmt = scope.select(models.Rule).order_by(*RULE_SORT.order_by()).limit(n + 1)
            if project_id is not None:
                stmt = stmt.where(models.Rule.project_id == _pk(project_id, "Project", "projectId"))
            if start is not None:
                stmt = stmt.where(RULE_SORT.where_after(start))
            rows = await scope.scalars(stmt)
        return connection(Page(rows[:n], len(rows) > n), RULE_SORT, Rule.from_model)

    @strawberry.field(
        description="The firing log, newest first: what rules did, kept 30 days. Filters combine."
    )
    async def rule_firings(
        self,
        info: Info,
        project_id: strawberry.ID | None = None,
        rule_id: strawberry.ID | None = None,
        issue_id: strawberry.ID | None = None,
        outcomes: list[FiringOutcome] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RuleFiring]:
        require(info, "project:read")
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise BadInput(f"`{name}` must carry a time zone, e.g. 2026-03-02T10:00:00Z", argument=name)
        if outcomes is not None and len(outcomes) > len(FiringOutcome):
            raise BadInput("each outcome may be given once", argument="outcomes")
        f = firings.Filters(
            project_id=_pk(project_id, "Project", "projectId") if project_id is not None else None,
            rule_id=_pk(rule_id, "Rule", "ruleId") if rule_id is not None else None,
            issue_id=_pk(issue_id, "Issue", "issueId") if issue_id is not None else None,
            outcomes=tuple(models.FiringOutcome(o.value) for o in outcomes or ()),
            since=since,
            until=until,
        )
        n, start = page_size(first), position(FIRING_SORT, after)
        org_id = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            stmt = firings.listing(org_id, f).order_by(*FIRING_SORT.order_by()).limit(n + 1)
            if start is not None:
                stmt = stmt.where(FIRING_SORT.where_after(start))
            rows = (await session.execute(stmt)).scalars().all()
        return connection(Page(rows[:n], len(rows) > n), FIRING_SORT, RuleFiring.from_model)


def _pk(global_id: str, type_name: str, argument: str) -> int:
    try:
        return ids.decode_as(global_id, type_name)
    except ids.InvalidId as exc:
        raise BadInput(str(exc), argument=argument) from None


@strawberry.type
class RuleMutation:
    @strawberry.mutation(
        description="Make a rule for a project. A ticket action needs an active installation and a target "
        "its tracker has (checked now); templates are checked to render."
    )
    async def create_rule(self, info: Info, project_id: strawberry.ID, input: RuleInput) -> RuleResult:
        if err := forbidden(info, "project:write") or _tickets_scope(info, input):
            return err
        project_pk = ids.pk_or_none(project_id, "Project")
        if project_pk is None:
            return NotFoundError(message="project not found")
        org_id = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            try:
                row = await service.create(info.context.runtime, session, org_id, project_pk, spec_of(input))
            except errors.ConduitError as exc:
                return _saving(exc)
            if row is None:
                return NotFoundError(message="project not found")
            await session.commit()
            return RulePayload(rule=Rule.from_model(row))

    @strawberry.mutation(description="Replace a rule with `input`, checked as `createRule` checks it.")
    async def update_rule(self, info: Info, id: strawberry.ID, input: RuleInput) -> RuleResult:
        if err := forbidden(info, "project:write") or _tickets_scope(info, input):
            return err
        async with info.context.runtime.sessions() as session:
            row = await _own_rule(TenantScope(session, info.context.viewer.organization_id), id)
            if row is None:
                return NotFoundError(message="rule not found")
            try:
                await service.update(info.context.runtime, session, row, spec_of(input))
            except errors.ConduitError as exc:
                return _saving(exc)
            await session.commit()
            return RulePayload(rule=Rule.from_model(row))

    @strawberry.mutation(description="Switch a rule on or off; off, it is not evaluated at all.")
    async def set_rule_enabled(self, info: Info, id: strawberry.ID, enabled: bool) -> RuleResult:
        if err := forbidden(info, "project:write"):
            return err
        async with info.context.runtime.sessions() as session:
            row = await _own_rule(TenantScope(session, info.context.viewer.organization_id), id)
            if row is None:
                return NotFoundError(message="rule not found")
            if row.enabled != enabled:
                row.enabled, row.updated_at = enabled, datetime.now(UTC)
                await session.commit()
            return RulePayload(rule=Rule.from_model(row))

    @strawberry.mutation(description="Delete a rule and its firing log; the tickets it made stay.")
    async def delete_rule(self, info: Info, id: strawberry.ID) -> DeleteRuleResult:
        if err := forbidden(info, "project:write"):
            return err
        async with info.context.runtime.sessions() as session:
            row = await _own_rule(TenantScope(session, info.context.viewer.organization_id), id)
            if row is None:
                return NotFoundError(message="rule not found")
            await session.delete(row)
            await session.commit()
        return DeleteRulePayload(rule_id=id)

    @strawberry.mutation(
        description="What `input` would have done with the project's issues seen since `since` (at most "
        "30 days back): which would fire, and the tickets it would make. Writes nothing and calls no tracker."
    )
    async def preview_rule(
        self, info: Info, project_id: strawberry.ID, input: RuleInput, since: datetime
    ) -> PreviewRuleResult:
        if err := forbidden(info, "project:read") or forbidden(info, "issue:read"):
            return err
        now = datetime.now(UTC)
        if since.tzinfo is None:
            return ValidationError(message="`since` must carry a time zone", field="since")
        if not now - MAX_PREVIEW_SPAN <= since <= now + timedelta(minutes=1):
            return ValidationError(message="`since` is within the last 30 days", field="since")
        project_pk = ids.pk_or_none(project_id, "Project")
        org_id = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, org_id)
            if project_pk is None or await scope.get(models.Project, project_pk) is None:
                return NotFoundError(message="project not found")
            try:
                spec = await service.check(info.context.runtime, scope, spec_of(input), ask_tracker=False)
                seen = await preview.preview(
                    info.context.runtime, session, org_id, project_pk, spec, since, now
                )
            except errors.ConduitError as exc:
                result = _in_input(exc)
                assert not isinstance(result, TrackerFailure)
                return result
            return RulePreview(
                matches=[RulePreviewMatch.of(m) for m in seen.matches],
                examined=seen.examined,
                truncated=seen.truncated,
            )
