"""Trackers: the providers, an organization's installations, and the tickets linked to its issues.

Credentials never appear here, nor the webhook secret (shown once, by the mutation that makes it). Tickets
and links are served from the sync cache: reading them never calls a tracker.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from conduit import ids
from conduit.connectors import SyncConfig
from conduit.connectors.catalog import Provider as ProviderSpec
from conduit.connectors.registry import provider as provider_spec
from conduit.db import models
from conduit.db.models.integrations import TicketRequest as TicketRequestRow
from conduit.db.models.integrations import TrackerWebhook
from conduit.schema.context import Info
from conduit.schema.node import Node
from conduit.schema.pagination import SortKey
from conduit.schema.permissions import require
from conduit.schema.series import UNTIL_DESCRIPTION, WINDOWS, HealthWindow, Series, grid
from conduit.sync import health as sync_health

INSTALLATION_SORT = SortKey(models.Installation.id, models.Installation.id, descending=False)


@strawberry.enum(description="How a tracker is connected.")
class AuthMode(Enum):
    OAUTH2 = "oauth2"
    API_TOKEN = "api_token"
    APP = "app"


@strawberry.type(description="A kind of tracker Conduit can connect to.")
class Provider:
    key: str
    name: str
    auth_mode: AuthMode = strawberry.field(
        description="OAUTH2: `startInstallation` and approve access in the tracker. API_TOKEN: "
        "`connectTracker` with a token the tracker issued. APP: an in-house tracker, `connectTracker` "
        "with the shared signing secret and the app (or base URL) of the service."
    )
    pkce: bool = strawberry.field(description="Whether the authorization uses PKCE (S256).")
    scopes: list[str]
    webhook_api: bool = strawberry.field(
        description="Whether Conduit can register the tracker's webhook itself."
    )

    @classmethod
    def from_spec(cls, p: ProviderSpec) -> Provider:
        return cls(
            key=p.key,
            name=p.name,
            auth_mode=AuthMode(p.auth_mode),
            pkce=p.pkce,
            scopes=list(p.scopes),
            webhook_api=p.webhook_api,
        )


@strawberry.enum
class InstallationStatus(Enum):
    PENDING = "pending"
    ACTIVE = "active"
    ERROR = "error"
    REVOKED = "revoked"


@strawberry.type
class InstallationAccount:
    id: str
    name: str
    url: str | None


@strawberry.type(description="How an installation syncs; see `updateInstallationConfig`.")
class InstallationConfig:
    status_outbound: bool
    status_inbound: bool
    assignee_outbound: bool
    assignee_inbound: bool
    comments_outbound: bool
    resolved_statuses: list[str] = strawberry.field(
        description="Tracker statuses that mean resolved; empty means the tracker's own done category."
    )
    resolve_status: str | None
    reopen_status: str | None
    issue_type: str

    @classmethod
    def from_config(cls, c: SyncConfig) -> InstallationConfig:
        return cls(
            status_outbound=c.status_outbound,
            status_inbound=c.status_inbound,
            assignee_outbound=c.assignee_outbound,
            assignee_inbound=c.assignee_inbound,
            comments_outbound=c.comments_outbound,
            resolved_statuses=list(c.resolved_statuses),
            resolve_status=c.resolve_status,
            reopen_status=c.reopen_status,
            issue_type=c.issue_type,
        )


@strawberry.type(description="The tracker's webhook for one repository or project.")
class InstallationWebhook:
    scope: str
    registered: bool
    manual: bool = strawberry.field(description="Conduit could not create it: add it by hand in the tracker.")
    expires_at: datetime | None
    error: str | None

    @classmethod
    def from_model(cls, w: TrackerWebhook) -> InstallationWebhook:
        return cls(
            scope=w.scope,
            registered=w.external_id is not None,
            manual=w.manual,
            expires_at=w.expires_at,
            error=w.error,
        )


@strawberry.type
class InstallationHealth:
    window: HealthWindow
    calls: int
    error_rate: float = strawberry.field(description="Share of calls that did not succeed, 0 to 1.")
    failures: int = strawberry.field(description="Calls that failed on our side or by a passing fault.")
    halted: int = strawberry.field(description="Calls stopped by the tracker's or the user's side.")
    p50_ms: float | None
    p95_ms: float | None
    last_error: str | None
    last_error_at: datetime | None
    rate_limit_remaining: int | None


@strawberry.type(description="An installation's calls to its tracker in one bucket of a series.")
class InstallationHealthBucket:
    start: datetime = strawberry.field(description="The bucket ends where the next one starts.")
    calls: int
    errors: int = strawberry.field(description="Calls that did not succeed, whichever side failed.")
    error_rate: float = strawberry.field(description="errors / calls, 0 to 1; 0 without calls.")
    p50_ms: float | None = strawberry.field(description="Median latency; null without calls.")
    p95_ms: float | None
    rate_limit_remaining: int | None = strawberry.field(
        description="The lowest rate-limit headroom the tracker reported in the bucket; null if none."
    )

    @classmethod
    def from_point(cls, p: sync_health.Point) -> InstallationHealthBucket:
        return cls(
            start=p.start,
            calls=p.calls,
            errors=p.errors,
            error_rate=p.error_rate,
            p50_ms=p.p50_ms,
            p95_ms=p.p95_ms,
            rate_limit_remaining=p.rate_limit_remaining,
        )


@strawberry.type(description="One call Conduit made to the installation's tracker, as it turned out.")
class Interaction:
    operation: str
    method: str
    path: str = strawberry.field(description="The endpoint's template: no keys or ids of the call.")
    http_status: int | None = strawberry.field(description="Null when no answer came back.")
    duration_ms: int
    outcome: str = strawberry.field(
        description="success; failure (our side or a passing fault); halted (the tracker's or the user's "
        "side)."
    )
    error: str | None
    rate_limit_remaining: int | None
    created_at: datetime

    @classmethod
    def from_model(cls, row: models.Interaction) -> Interaction:
        return cls(
            operation=row.operation,
            method=row.method,
            path=row.path,
            http_status=row.http_status,
            duration_ms=row.duration_ms,
            outcome=row.outcome.value,
            error=row.error,
            rate_limit_remaining=row.rate_limit_remaining,
            created_at=row.created_at,
        )


@strawberry.type(description="An installation's health over time: every bucket of the window, oldest first.")
class InstallationHealthSeries(Series):
    buckets: list[InstallationHealthBucket]


@strawberry.type(description="An organization's connection to one tracker account or site.")
class Installation(Node):
    base_url: str | None
    status: InstallationStatus
    status_reason: str | None = strawberry.field(
        description="When not ACTIVE: what a person can do about it."
    )
    created_at: datetime
    pk: strawberry.Private[int]
    org_pk: strawberry.Private[int]
    provider_key: strawberry.Private[str]
    account_row: strawberry.Private[InstallationAccount | None]
    config_json: strawberry.Private[dict[str, object]]
    hook_token: strawberry.Private[str]

    @classmethod
    def from_model(cls, i: models.Installation) -> Installation:
        account = (
            InstallationAccount(id=i.account_id, name=i.account_name or i.account_id, url=i.account_url)
            if i.account_id
            else None
        )
        return cls(
            id=strawberry.ID(ids.encode("Installation", i.id)),
            base_url=i.base_url,
            status=InstallationStatus(i.status.value),
            status_reason=i.status_reason,
            created_at=i.created_at,
            pk=i.id,
            org_pk=i.organization_id,
            provider_key=i.provider,
            account_row=account,
            config_json=dict(i.config or {}),
            hook_token=i.hook_token,
        )

    @strawberry.field
    def provider(self) -> Provider:
        return Provider.from_spec(provider_spec(self.provider_key))

    @strawberry.field
    def account(self) -> InstallationAccount | None:
        return self.account_row

    @strawberry.field
    def config(self) -> InstallationConfig:
        return InstallationConfig.from_config(SyncConfig.from_json(self.config_json))

    @strawberry.field(description="Where the tracker sends its webhooks for this installation.")
    def webhook_url(self, info: Info) -> str:
        base = info.context.runtime.settings.public_url.rstrip("/")
        return f"{base}/hooks/{self.provider_key}/{self.hook_token}"

    @strawberry.field
    async def webhooks(self, info: Info) -> list[InstallationWebhook]:
        rows = await info.context.loaders.installation_webhooks.load(self.pk)
        return [InstallationWebhook.from_model(w) for w in rows]

    @strawberry.field(
        description="Calls, errors, latency and rate-limit headroom over the last hour, day or week."
    )
    async def health(self, info: Info, window: HealthWindow = HealthWindow.HOUR) -> InstallationHealth:
        require(info, "installation:read")
        async with info.context.reads.session() as session:
            h = await sync_health.health(session, self.org_pk, self.pk, WINDOWS[window])
        return InstallationHealth(
            window=window,
            calls=h.calls,
            error_rate=h.error_rate,
            failures=h.failures,
            halted=h.halted,
            p50_ms=h.p50_ms,
            p95_ms=h.p95_ms,
            last_error=h.last_error,
            last_error_at=h.last_error_at,
            rate_limit_remaining=h.rate_limit_remaining,
        )

    @strawberry.field(
        description=f"The latest calls to the tracker, newest first: `latest` of them, 1 to "
        f"{sync_health.MAX_RECENT}."
    )
    async def interactions(self, info: Info, latest: int = 20) -> list[Interaction]:
        require(info, "installation:read")
        async with info.context.reads.session() as session:
            rows = await sync_health.recent(session, self.org_pk, self.pk, latest)
        return [Interaction.from_model(row) for row in rows]

    @strawberry.field(
        description="Calls, errors, latency and rate-limit headroom per bucket: 5 minutes over an hour, "
        "an hour over a day, 6 hours over a week. Empty buckets are there with zeros."
    )
    async def health_series(
        self,
        info: Info,
        window: HealthWindow = HealthWindow.HOUR,
        until: Annotated[datetime | None, strawberry.argument(description=UNTIL_DESCRIPTION)] = None,
    ) -> InstallationHealthSeries:
        require(info, "installation:read")
        g = grid(window, until)
        async with info.context.reads.session() as session:
            points = await sync_health.series(session, self.org_pk, self.pk, g)
        return InstallationHealthSeries(
            window=window,
            bucket_seconds=g.step_seconds,
            start=g.start,
            end=g.end,
            buckets=[InstallationHealthBucket.from_point(p) for p in points],
        )


@strawberry.enum
class TicketStatusCategory(Enum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@strawberry.type(
    description="A ticket in a tracker, as last seen there (kept fresh by webhooks and revalidation)."
)
class ExternalIssue(Node):
    key: str
    url: str
    title: str
    status: str = strawberry.field(description="The tracker's own name for the status.")
    status_category: TicketStatusCategory
    assignee: str | None
    updated_at: datetime | None = strawberry.field(description="When the ticket last changed in the tracker.")
    last_synced_at: datetime | None = strawberry.field(
        description="When Conduit last confirmed these fields."
    )
    deleted: bool
    sync_error: str | None = strawberry.field(
        description="Why the last change Conduit tried to make to the ticket did not happen."
    )
    installation_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, e: models.ExternalIssue) -> ExternalIssue:
        return cls(
            id=strawberry.ID(ids.encode("ExternalIssue", e.id)),
            key=e.key,
            url=e.url,
            title=e.title,
            status=e.status,
            status_category=TicketStatusCategory(e.status_category),
            assignee=e.assignee,
            updated_at=e.updated_at,
            last_synced_at=e.last_synced_at,
            deleted=e.deleted,
            sync_error=e.sync_error,
            installation_pk=e.installation_id,
        )

    @strawberry.field
    async def installation(self, info: Info) -> Installation | None:
        row = await info.context.loaders.installation.load(self.installation_pk)
        return Installation.from_model(row) if row else None


@strawberry.type(description="An issue linked to a ticket.")
class IssueLink(Node):
    external_issue: ExternalIssue
    broken: bool = strawberry.field(description="The ticket was deleted in the tracker.")
    created_at: datetime
    issue_pk: strawberry.Private[int]

    @classmethod
    def from_models(cls, link: models.IssueLink, external: models.ExternalIssue) -> IssueLink:
        return cls(
            id=strawberry.ID(ids.encode("IssueLink", link.id)),
            external_issue=ExternalIssue.from_model(external),
            broken=link.broken,
            created_at=link.created_at,
            issue_pk=link.issue_id,
        )


@strawberry.enum
class TicketRequestState(Enum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@strawberry.type(
    description="A ticket being created from an issue; submitting the same one twice returns this."
)
class TicketRequest(Node):
    state: TicketRequestState
    target: str
    error: str | None
    created_at: datetime
    external_issue_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, r: TicketRequestRow) -> TicketRequest:
        return cls(
            id=strawberry.ID(ids.encode("TicketRequest", r.id)),
            state=TicketRequestState(r.state.value),
            target=r.target,
            error=r.error,
            created_at=r.created_at,
            external_issue_pk=r.external_issue_id,
        )

    @strawberry.field
    async def external_issue(self, info: Info) -> ExternalIssue | None:
        if self.external_issue_pk is None:
            return None
        row = await info.context.loaders.external_issue.load(self.external_issue_pk)
        return ExternalIssue.from_model(row) if row else None
