"""Apps: registering and managing them (owners), installing them (organizations), the event catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode, urlsplit, urlunsplit

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit import errors, ids
from conduit.apps import service
from conduit.auth import tokens
from conduit.db import models
from conduit.db.base import utcnow
from conduit.db.tenancy import TenantScope
from conduit.events.catalog import EVENT_TYPES
from conduit.schema.apps import App, AppInstallation, AppKind
from conduit.schema.catalog import EventTypeInfo
from conduit.schema.context import Info
from conduit.schema.deliveries import Delivery
from conduit.schema.errors import ForbiddenError, NotFoundError, ValidationError, decoded_pk, user_error
from conduit.schema.permissions import forbidden, require
from conduit.webhooks import fanout, payloads
from conduit.webhooks.schedule import DEFAULT_TIMEOUT


@strawberry.input
class CreateAppInput:
    name: str
    kind: AppKind
    webhook_url: str | None = None
    redirect_url: str | None = None
    events: list[str] = strawberry.field(default_factory=list)
    scopes: list[str] = strawberry.field(default_factory=list)
    verify_install: bool = False
    webhook_timeout_seconds: float = DEFAULT_TIMEOUT
    rate_limit_per_second: int = 10
    max_in_flight: int = 10
    fifo: bool = strawberry.field(
        default=False,
        description="Strict order: deliveries go one at a time, oldest first, and one failing holds back "
        "the rest until it succeeds or runs out of attempts. Otherwise up to `maxInFlight` go at once.",
    )
    tracker_url: str | None = strawberry.field(
        default=None,
        description="Makes the app a tracker: the base URL of the in-house tracker contract "
        "(/contract/tracker/v1/openapi.json) its service implements. Organizations connect it with "
        '`connectTracker(provider: "inhouse", app: ...)`: an internal app only its own.',
    )


@strawberry.type
class CreateAppPayload:
    app: App
    client_secret: str = strawberry.field(description="Shown once: store it now.")
    webhook_secret: str = strawberry.field(description="`whsec_...`, to verify deliveries. Shown once.")
    installation: AppInstallation | None = strawberry.field(
        description="For an internal app, its installation in this organization."
    )


@strawberry.input(
    description="How deliveries are sent to the app's endpoint; fields left out stay as they are."
)
class UpdateAppDeliveryInput:
    fifo: bool | None = strawberry.field(
        default=None,
        description="Strict order: one delivery at a time, oldest first, a failing one holding back "
        "the rest.",
    )
    max_in_flight: int | None = None
    rate_limit_per_second: int | None = None
    webhook_timeout_seconds: float | None = None


@strawberry.type
class UpdateAppDeliveryPayload:
    app: App


@strawberry.type
class RotateAppSecretPayload:
    app: App
    client_secret: str = strawberry.field(description="Shown once. The previous secret stops working now.")


@strawberry.type
class RotateWebhookSecretPayload:
    app: App
    webhook_secret: str = strawberry.field(description="Shown once. Deliveries are signed with it from now.")
    previous_secrets_expire_at: datetime = strawberry.field(
        description="Until then deliveries also carry a signature made with the previous secret(s)."
    )


@strawberry.type
class InstallAppPayload:
    installation: AppInstallation
    code: str = strawberry.field(description="Single-use grant code; the app exchanges it at /oauth/token.")
    code_expires_at: datetime
    redirect_url: str | None = strawberry.field(description="Send the browser here, when the app set one.")


@strawberry.type
class UninstallAppPayload:
    installation: AppInstallation


@strawberry.type
class SendTestEventPayload:
    delivery: Delivery


CreateAppResult = Annotated[
    CreateAppPayload | ValidationError | ForbiddenError, strawberry.union("CreateAppResult")
]
UpdateAppDeliveryResult = Annotated[
    UpdateAppDeliveryPayload | NotFoundError | ValidationError | ForbiddenError,
    strawberry.union("UpdateAppDeliveryResult"),
]
RotateAppSecretResult = Annotated[
    RotateAppSecretPayload | NotFoundError | ForbiddenError, strawberry.union("RotateAppSecretResult")
]
RotateWebhookSecretResult = Annotated[
    RotateWebhookSecretPayload | NotFoundError | ForbiddenError, strawberry.union("RotateWebhookSecretResult")
]
InstallAppResult = Annotated[
    InstallAppPayload | NotFoundError | ValidationError | ForbiddenError, strawberry.union("InstallAppResult")
]
UninstallAppResult = Annotated[
    UninstallAppPayload | NotFoundError | ForbiddenError, strawberry.union("UninstallAppResult")
]
SendTestEventResult = Annotated[
    SendTestEventPayload | NotFoundError | ValidationError | ForbiddenError,
    strawberry.union("SendTestEventResult"),
]


async def _owned_app(info: Info, session: AsyncSession, app_id: str) -> models.App | None:
    pk = ids.pk_or_none(app_id, "App")
    if pk is None:
        return None
    app = await TenantScope(session, info.context.viewer.organization_id).get(models.App, pk)
    return None if app is None or app.deleted_at is not None else app


def with_code(url: str, code: str, installation_id: str) -> str:
    parts = urlsplit(url)
    query = "&".join(
        q for q in (parts.query, urlencode({"code": code, "installationId": installation_id})) if q
    )
    return urlunsplit(parts._replace(query=query))


@strawberry.type
class AppQuery:
    @strawberry.field(description="The event catalog: every type webhooks and subscriptions carry.")
    def event_types(self) -> list[EventTypeInfo]:
        return [EventTypeInfo.from_entry(e) for e in EVENT_TYPES.values()]

    @strawberry.field(description="Apps this organization owns.")
    async def apps(self, info: Info) -> list[App]:
        require(info, "app:read")
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, info.context.viewer.organization_id)
            rows = await scope.scalars(
                scope.select(models.App).where(models.App.deleted_at.is_(None)).order_by(models.App.id)
            )
        return [App.from_model(a) for a in rows]

    @strawberry.field(description="One app this organization owns.")
    async def app(self, info: Info, id: strawberry.ID) -> App | None:
        require(info, "app:read")
        decoded_pk(id, "App", "id")  # a malformed id is the client's mistake, not a missing app
        async with info.context.runtime.sessions() as session:
            app = await _owned_app(info, session, id)
        return None if app is None else App.from_model(app)

    @strawberry.field(description="Apps installed in this organization (or whose install is pending).")
    async def app_installations(self, info: Info) -> list[AppInstallation]:
        require(info, "app:read")
        async with info.context.runtime.sessions() as session:
            rows = await session.execute(
                select(models.AppInstallation, models.App.name)
                .join(models.App, models.App.id == models.AppInstallation.app_id)
                .where(models.AppInstallation.organization_id == info.context.viewer.organization_id)
                .order_by(models.AppInstallation.id)
            )
            return [AppInstallation.from_model(i, name) for i, name in rows.tuples()]


@strawberry.type
class AppMutation:
    @strawberry.mutation(description="Register an app. Its client secret and webhook secret are shown once.")
    async def create_app(self, info: Info, input: CreateAppInput) -> CreateAppResult:
        if err := forbidden(info, "app:write"):
            return err
        viewer = info.context.viewer
        # Unknown scopes are a validation error below; known ones must be held by the token itself.
        beyond = [s for s in input.scopes if s in tokens.ALL_SCOPES and not viewer.can(s)]
        if beyond:
            return ForbiddenError(
                message=f"cannot give an app scopes this token lacks: {', '.join(beyond)}",
                required_scope=beyond[0],
            )
        spec = service.AppSpec(
            name=input.name,
            kind=models.AppKind(input.kind.value),
            webhook_url=input.webhook_url,
            redirect_url=input.redirect_url,
            events=tuple(input.events),
            scopes=tuple(input.scopes),
            verify_install=input.verify_install,
            webhook_timeout=input.webhook_timeout_seconds,
            rate_limit_per_second=input.rate_limit_per_second,
            max_in_flight=input.max_in_flight,
            fifo=input.fifo,
            tracker_url=input.tracker_url,
        )
        runtime = info.context.runtime
        async with runtime.sessions() as session:
            try:
                made = await service.create_app(session, runtime, viewer.organization_id, spec)
            except errors.Invalid as exc:
                return user_error(exc)
            await session.commit()
        inst = (
            None
            if made.installation is None
            else AppInstallation.from_model(made.installation, made.app.name)
        )
        return CreateAppPayload(
            app=App.from_model(made.app),
            client_secret=made.client_secret,
            webhook_secret=made.webhook_secret,
            installation=inst,
        )

    @strawberry.mutation(description="Replace the app's client secret; the old one stops working at once.")
    async def rotate_app_secret(self, info: Info, app_id: strawberry.ID) -> RotateAppSecretResult:
        if err := forbidden(info, "app:write"):
            return err
        async with info.context.runtime.sessions() as session:
            app = await _owned_app(info, session, app_id)
            if app is None:
                return NotFoundError(message="app not found")
            secret = service.rotate_client_secret(app)
            await session.commit()
        return RotateAppSecretPayload(app=App.from_model(app), client_secret=secret)

    @strawberry.mutation(description="Change how deliveries are sent to the app's endpoint.")
    async def update_app_delivery(
        self, info: Info, app_id: strawberry.ID, input: UpdateAppDeliveryInput
    ) -> UpdateAppDeliveryResult:
        if err := forbidden(info, "app:write"):
            return err
        async with info.context.runtime.sessions() as session:
            app = await _owned_app(info, session, app_id)
            if app is None:
                return NotFoundError(message="app not found")
            try:
                service.update_delivery(
                    app,
                    fifo=input.fifo,
                    max_in_flight=input.max_in_flight,
                    rate_limit_per_second=input.rate_limit_per_second,
                    webhook_timeout=input.webhook_timeout_seconds,
                )
            except errors.Invalid as exc:
                return user_error(exc)
            await session.commit()
        return UpdateAppDeliveryPayload(app=App.from_model(app))

    @strawberry.mutation(
        description="New webhook signing secret; the previous one keeps signing for 24 hours."
    )
    async def rotate_webhook_secret(self, info: Info, app_id: strawberry.ID) -> RotateWebhookSecretResult:
        if err := forbidden(info, "app:write"):
            return err
        runtime = info.context.runtime
        async with runtime.sessions() as session:
            app = await _owned_app(info, session, app_id)
            if app is None:
                return NotFoundError(message="app not found")
            secret, ends = await service.rotate_webhook_secret(session, runtime, app)
            await session.commit()
        return RotateWebhookSecretPayload(
            app=App.from_model(app), webhook_secret=secret, previous_secrets_expire_at=ends
        )

    @strawberry.mutation(
        description="Install a public app (or your own internal one again) in this organization. The grant "
        "code is also sent to the app in the `installation.created` webhook."
    )
    async def install_app(self, info: Info, app_id: strawberry.ID) -> InstallAppResult:
        if err := forbidden(info, "app:write"):
            return err
        viewer = info.context.viewer
        pk = ids.pk_or_none(app_id, "App")
        async with info.context.runtime.sessions() as session:
            app = None if pk is None else await session.get(models.App, pk)
            # Public apps are installable by anyone holding their id; internal ones only by their owner.
            visible = (
                app is not None
                and app.deleted_at is None
                and (app.kind is models.AppKind.PUBLIC or app.organization_id == viewer.organization_id)
            )
            if app is None or not visible:
                return NotFoundError(message="app not found")
            beyond = [s for s in app.scopes if not viewer.can(s)]
            if beyond:
                return ForbiddenError(
                    message=f"installing grants scopes this token lacks: {', '.join(beyond)}",
                    required_scope=beyond[0],
                )
            try:
                grant = await service.install(
                    session, info.context.runtime, app, viewer.organization_id, actor=viewer.actor
                )
            except errors.Invalid as exc:
                return user_error(exc, field="appId")
            await session.commit()
            inst = AppInstallation.from_model(grant.installation, app.name)
        redirect = None if not app.redirect_url else with_code(app.redirect_url, grant.code, str(inst.id))
        return InstallAppPayload(
            installation=inst, code=grant.code, code_expires_at=grant.expires_at, redirect_url=redirect
        )

    @strawberry.mutation(
        description="Uninstall an app: its tokens stop working and it gets `installation.deleted`."
    )
    async def uninstall_app(self, info: Info, installation_id: strawberry.ID) -> UninstallAppResult:
        if err := forbidden(info, "app:write"):
            return err
        pk = ids.pk_or_none(installation_id, "AppInstallation")
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, info.context.viewer.organization_id)
            inst = None if pk is None else await scope.get(models.AppInstallation, pk)
            if inst is None:
                return NotFoundError(message="installation not found")
            app = await session.get(models.App, inst.app_id)
            await service.uninstall(session, inst, actor=info.context.viewer.actor)
            await session.commit()
        return UninstallAppPayload(installation=AppInstallation.from_model(inst, app.name if app else ""))

    @strawberry.mutation(description="Send the catalog example of an event type to the app's endpoint, now.")
    async def send_test_event(self, info: Info, app_id: strawberry.ID, type: str) -> SendTestEventResult:
        if err := forbidden(info, "webhook:write"):
            return err
        kind = EVENT_TYPES.get(type)
        if kind is None:
            return ValidationError(
                message=f"unknown event type {type!r}; see the eventTypes query", field="type"
            )
        async with info.context.runtime.sessions() as session:
            app = await _owned_app(info, session, app_id)
            if app is None:
                return NotFoundError(message="app not found")
            if not app.webhook_url:
                return ValidationError(message="the app has no webhookUrl to send to", field="appId")
            now = utcnow()
            event_id = f"evt_test_{ids.encode('App', app.id)}_{int(now.timestamp() * 1e6)}"
            delivery = models.Delivery(
                app_id=app.id,
                owner_organization_id=app.organization_id,
                organization_id=app.organization_id,
                installation_id=None,
                event_type=type,
                event_id=event_id,
                msg_id=payloads.message_id(event_id, f"app:{app.id}"),
                body=fanout.body_for(event_id, type, kind.example, now, None, None).decode(),
                status=models.DeliveryStatus.PENDING,
                attempts=0,
                test=True,
            )
            session.add(delivery)
            await session.flush()
            fanout.schedule(session, delivery, trigger="manual", ordered=False)
            await session.commit()
        return SendTestEventPayload(
            delivery=Delivery.from_model(delivery, [], info.context.viewer.organization_id)
        )
