"""Automation rules, their firing log and their preview, as the API shows them.

Thin types: fields and `from_model`; related objects (project, installation, assignee, issue, ticket)
are followed through the request's loaders, each guarded by its own type's scope, so a token that may
read rules but not installations still reads the rule.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from conduit import ids
from conduit.db import models
from conduit.rules.definition import Filters
from conduit.rules.preview import Match
from conduit.schema.context import Info
from conduit.schema.issues import Issue
from conduit.schema.organization import Member, Project
from conduit.schema.pagination import SortKey
from conduit.schema.trackers import ExternalIssue, Installation

RULE_SORT = SortKey(models.Rule.id, models.Rule.id, descending=False)
FIRING_SORT = SortKey(models.RuleFiring.created_at, models.RuleFiring.id, descending=True, is_datetime=True)


@strawberry.enum(description="What makes a rule fire for an issue.")
class RuleTrigger(Enum):
    NEW_ISSUE = "new_issue"
    REGRESSION = "regression"
    EVENT_RATE = "event_rate"
    EVENTS_SINCE_TICKET = "events_since_ticket"


@strawberry.enum(description="What came of a firing.")
class FiringOutcome(Enum):
    PENDING = "pending"
    CREATED = "created"
    LINKED = "linked"
    COMMENTED = "commented"
    EMITTED = "emitted"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


@strawberry.type(description="A tag an issue's newest event must carry.")
class RuleTag:
    key: str
    value: str


@strawberry.type(description="What an issue must be for the rule to fire; empty lists match anything.")
class RuleFilters:
    levels: list[str]
    environments: list[str]
    releases: list[str]
    tags: list[RuleTag]
    text: str | None = strawberry.field(description="Found, ignoring case, in the title or the culprit.")

    @classmethod
    def of(cls, f: Filters) -> RuleFilters:
        return cls(
            levels=list(f.levels),
            environments=list(f.environments),
            releases=list(f.releases),
            tags=[RuleTag(key=k, value=v) for k, v in f.tags.items()],
            text=f.text,
        )


@strawberry.type(description="An automation rule of a project: a trigger, filters and what to do.")
class Rule:
    id: strawberry.ID
    name: str
    enabled: bool
    trigger: RuleTrigger
    threshold: int | None = strawberry.field(
        description="EVENT_RATE and EVENTS_SINCE_TICKET fire above this many events."
    )
    window_seconds: int | None = strawberry.field(
        description="EVENT_RATE: the window the events are counted in."
    )
    filters: RuleFilters
    target: str | None = strawberry.field(description="Where tickets are made: a repository or project key.")
    ticket_title: str | None = strawberry.field(description="The title template; null: the issue's title.")
    ticket_description: str | None = strawberry.field(
        description="The description template; null: Conduit's summary of the issue."
    )
    ticket_labels: list[str] = strawberry.field(description="Labels on the tickets the rule makes.")
    comment_milestones: bool = strawberry.field(
        description="Comment on the issue's tickets when its count reaches 10, 100, 1,000, ..."
    )
    max_tickets_per_hour: int
    created_at: datetime
    updated_at: datetime
    project_pk: strawberry.Private[int]
    installation_pk: strawberry.Private[int | None]
    assignee_pk: strawberry.Private[int | None]

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        row = await info.context.loaders.project.load(self.project_pk)
        return Project.from_model(row) if row else None

    @strawberry.field(description="Where tickets are made; null for a rule that only emits `rule.triggered`.")
    async def installation(self, info: Info) -> Installation | None:
        if self.installation_pk is None:
            return None
        row = await info.context.loaders.installation.load(self.installation_pk)
        return Installation.from_model(row) if row else None

    @strawberry.field(description="Who an issue is assigned to when the rule makes its ticket.")
    async def assignee(self, info: Info) -> Member | None:
        if self.assignee_pk is None:
            return None
        row = await info.context.loaders.member.load(self.assignee_pk)
        return Member.from_model(row) if row else None

    @classmethod
    def from_model(cls, r: models.Rule) -> Rule:
        return cls(
            id=strawberry.ID(ids.encode("Rule", r.id)),
            name=r.name,
            enabled=r.enabled,
            trigger=RuleTrigger(r.trigger.value),
            threshold=r.threshold,
            window_seconds=r.window_seconds,
            filters=RuleFilters.of(Filters.from_json(r.filters)),
            target=r.target,
            ticket_title=r.title_template,
            ticket_description=r.description_template,
            ticket_labels=list(r.ticket_labels or ()),
            comment_milestones=r.comment_milestones,
            max_tickets_per_hour=r.max_tickets_per_hour,
            created_at=r.created_at,
            updated_at=r.updated_at,
            project_pk=r.project_id,
            installation_pk=r.installation_id,
            assignee_pk=r.assignee_id,
        )


@strawberry.type(description="One time a rule matched an issue: what it did, and how that turned out.")
class RuleFiring:
    id: strawberry.ID
    rule_id: strawberry.ID
    action: str = strawberry.field(description="ticket, comment or event.")
    cause: str = strawberry.field(
        description="new, regression:<when>, rate, ticket:<ticket id> or milestone:<count>."
    )
    outcome: FiringOutcome
    reason: str | None = strawberry.field(description="Why it was suppressed or failed, or what it found.")
    count: int = strawberry.field(description="The issue's event count when the rule fired.")
    latency_ms: int | None = strawberry.field(
        description="From the newest event the evaluation saw arriving to the outcome being known."
    )
    created_at: datetime
    settled_at: datetime | None
    issue_pk: strawberry.Private[int]
    external_issue_pk: strawberry.Private[int | None]

    @strawberry.field
    async def issue(self, info: Info) -> Issue | None:
        row = await info.context.loaders.issue.load(self.issue_pk)
        return Issue.from_model(row) if row else None

    @strawberry.field(description="The ticket made, found or commented on.")
    async def external_issue(self, info: Info) -> ExternalIssue | None:
        if self.external_issue_pk is None:
            return None
        row = await info.context.loaders.external_issue.load(self.external_issue_pk)
        return ExternalIssue.from_model(row) if row else None

    @classmethod
    def from_model(cls, f: models.RuleFiring) -> RuleFiring:
        return cls(
            id=strawberry.ID(ids.encode("RuleFiring", f.id)),
            rule_id=strawberry.ID(ids.encode("Rule", f.rule_id)),
            action=f.action,
            cause=f.cause,
            outcome=FiringOutcome(f.outcome.value),
            reason=f.reason,
            count=f.count,
            latency_ms=f.latency_ms,
            created_at=f.created_at,
            settled_at=f.settled_at,
            issue_pk=f.issue_id,
            external_issue_pk=f.external_issue_id,
        )


@strawberry.type(description="An issue the rule would have fired for, and what it would have done.")
class RulePreviewMatch:
    cause: str
    action: str = strawberry.field(description="ticket or event.")
    outcome: FiringOutcome = strawberry.field(
        description="CREATED: a ticket would be made; LINKED, SUPPRESSED, FAILED or EMITTED as in the log."
    )
    reason: str | None
    ticket_title: str | None
    ticket_description: str | None
    issue: Issue
    external_issue_pk: strawberry.Private[int | None]

    @strawberry.field(description="The ticket the issue already has in the installation (LINKED).")
    async def external_issue(self, info: Info) -> ExternalIssue | None:
        if self.external_issue_pk is None:
            return None
        row = await info.context.loaders.external_issue.load(self.external_issue_pk)
        return ExternalIssue.from_model(row) if row else None

    @classmethod
    def of(cls, m: Match) -> RulePreviewMatch:
        return cls(
            cause=m.cause,
            action=m.action,
            outcome=FiringOutcome(m.outcome.value),
            reason=m.reason,
            ticket_title=m.title,
            ticket_description=m.description,
            issue=Issue.from_model(m.issue),
            external_issue_pk=m.external_issue_id,
        )


@strawberry.type(
    description="What a rule would have done with the project's recent issues; nothing is written."
)
class RulePreview:
    matches: list[RulePreviewMatch]
    examined: int = strawberry.field(description="How many issues seen since `since` were looked at.")
    truncated: bool = strawberry.field(description="More issues were seen; the oldest ones were looked at.")
