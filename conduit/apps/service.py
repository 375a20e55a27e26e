"""Registering apps, rotating their secrets, installing and uninstalling them.

Functions take an open session and leave committing to the caller, so an app, its first secrets and
the events they cause are written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.apps.analytics import record_change
from conduit.auth import credentials, tokens
from conduit.db.base import utcnow
from conduit.db.models import (
    App,
    AppGrant,
    AppInstallation,
    AppInstallationStatus,
    AppKind,
    AppToken,
    AppWebhookSecret,
    InstallChange,
)
from conduit.egress import WebhookURLError, check_url, parse_url
from conduit.errors import Invalid
from conduit.events import sealed
from conduit.events.catalog import EVENT_TYPES
from conduit.events.emit import emit
from conduit.ids import encode
from conduit.runtime import Runtime
from conduit.webhooks import signing
from conduit.webhooks.schedule import DEFAULT_TIMEOUT, validate_timeout

GRANT_LIFETIME = timedelta(minutes=10)
# After a rotation the old webhook key keeps signing beside the new one, so receivers can switch over.
WEBHOOK_SECRET_OVERLAP = timedelta(hours=24)
MAX_RATE = 1000
MAX_IN_FLIGHT = 100
# An organization's own apps, and the apps installed in it, are listed whole (no paging): bounded so that
# listing them is bounded too, and the query cost can price the lists at their real length.
MAX_APPS = 100
MAX_INSTALLATIONS = 100
MAX_TRACKER_URL = 500


class InvalidApp(Invalid):
    """Input that cannot make an app; `field` names the input field at fault."""


@dataclass
class AppSpec:
    name: str
    kind: AppKind
    webhook_url: str | None = None
    redirect_url: str | None = None
    events: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    verify_install: bool = False
    webhook_timeout: float = DEFAULT_TIMEOUT
    rate_limit_per_second: int = 10
    max_in_flight: int = 10
    # Strict order: one delivery at a time, oldest first; a failing one holds back the rest.
    fifo: bool = False
    # The app is a tracker: the base URL of the in-house tracker contract its service speaks.
    tracker_url: str | None = None


@dataclass
class CreatedApp:
    app: App
    client_secret: str
    webhook_secret: str
    installation: AppInstallation | None  # INTERNAL apps are installed in their owner at once


@dataclass
class Grant:
    installation: AppInstallation
    code: str
    expires_at: datetime


async def validate(runtime: Runtime, spec: AppSpec) -> AppSpec:
    name = spec.name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidApp("name must be 1 to 200 characters", "name")
    unknown = sorted(set(spec.events) - EVENT_TYPES.keys())
    if unknown:
        raise InvalidApp(
            f"unknown event type(s): {', '.join(unknown)}; the eventTypes query lists them", "events"
        )
    try:
        scopes = tokens.validate_scopes(spec.scopes)
    except tokens.InvalidScope as exc:
        raise InvalidApp(str(exc), "scopes") from None
    webhook_url = spec.webhook_url.strip() if spec.webhook_url else None
    if spec.events and not webhook_url:
        raise InvalidApp("an app subscribed to events needs a webhookUrl", "webhookUrl")
    if webhook_url:
        try:
            webhook_url = (
                await check_url(webhook_url, allow_private=runtime.settings.allow_private_webhook_urls)
            ).url
        except WebhookURLError as exc:
            raise InvalidApp(f"webhookUrl: {exc}", "webhookUrl") from None
    redirect_url = spec.redirect_url.strip() if spec.redirect_url else None
    if redirect_url:
        try:
            redirect_url = str(parse_url(redirect_url))
        except WebhookURLError as exc:
            raise InvalidApp(f"redirectUrl: {str(exc).replace('webhook ', '')}", "redirectUrl") from None
    try:
        timeout = validate_timeout(spec.webhook_timeout)
    except ValueError as exc:
        raise InvalidApp(str(exc), "webhookTimeoutSeconds") from None
    if not 1 <= spec.rate_limit_per_second <= MAX_RATE:
        raise InvalidApp(f"rateLimitPerSecond must be 1 to {MAX_RATE}", "rateLimitPerSecond")
    if not 1 <= spec.max_in_flight <= MAX_IN_FLIGHT:
        raise InvalidApp(f"maxInFlight must be 1 to {MAX_IN_FLIGHT}", "maxInFlight")
    tracker_url = spec.tracker_url.strip().rstrip("/") if spec.tracker_url else None
    if tracker_url:
        # Only the shape here: where it resolves is checked when an organization connects it, as for
        # every tracker's base URL (the private-range guard applies then and on every call).
        if len(tracker_url) > MAX_TRACKER_URL:
            raise InvalidApp(f"trackerUrl is longer than {MAX_TRACKER_URL} characters", "trackerUrl")
        try:
            tracker_url = str(parse_url(tracker_url)).rstrip("/")
        except WebhookURLError as exc:
            raise InvalidApp(f"trackerUrl: {str(exc).replace('webhook ', '')}", "trackerUrl") from None
    return AppSpec(
        name,
        spec.kind,
        webhook_url,
        redirect_url,
        tuple(sorted(set(spec.events))),
        tuple(scopes),
        spec.verify_install,
        timeout,
        spec.rate_limit_per_second,
        spec.max_in_flight,
        fifo=bool(spec.fifo),
        tracker_url=tracker_url,
    )


def update_delivery(
    app: App,
    *,
    fifo: bool | None = None,
    max_in_flight: int | None = None,
    rate_limit_per_second: int | None = None,
    webhook_timeout: float | None = None,
) -> None:
    """Change how deliveries are sent to the app's endpoint; what is not given stays as it is. The next
    drain of the endpoint goes by the new settings."""
    if rate_limit_per_second is not None and not 1 <= rate_limit_per_second <= MAX_RATE:
        raise InvalidApp(f"rateLimitPerSecond must be 1 to {MAX_RATE}", "rateLimitPerSecond")
    if max_in_flight is not None and not 1 <= max_in_flight <= MAX_IN_FLIGHT:
        raise InvalidApp(f"maxInFlight must be 1 to {MAX_IN_FLIGHT}", "maxInFlight")
    if webhook_timeout is not None:
        try:
            webhook_timeout = validate_timeout(webhook_timeout)
        except ValueError as exc:
            raise InvalidApp(str(exc), "webhookTimeoutSeconds") from None
    if fifo is not None:
        app.fifo = fifo
    if max_in_flight is not None:
        app.max_in_flight = max_in_flight
    if rate_limit_per_second is not None:
        app.rate_limit_per_second = rate_limit_per_second
    if webhook_timeout is not None:
        app.webhook_timeout = webhook_timeout


def add_webhook_secret(session: AsyncSession, runtime: Runtime, app: App) -> str:
    secret = signing.generate_secret()
    session.add(AppWebhookSecret(app_id=app.id, secret_encrypted=runtime.secrets.encrypt(secret)))
    return secret


async def create_app(session: AsyncSession, runtime: Runtime, owner_id: int, spec: AppSpec) -> CreatedApp:
    spec = await validate(runtime, spec)
    owned = await session.scalar(
        select(func.count()).select_from(App).where(App.organization_id == owner_id, App.deleted_at.is_(None))
    )
    if (owned or 0) >= MAX_APPS:
        raise InvalidApp(f"an organization owns at most {MAX_APPS} apps", "name")
    client_secret = credentials.generate(credentials.CLIENT_SECRET)
    app = App(
        organization_id=owner_id,
        name=spec.name,
        kind=spec.kind,
        client_id=credentials.client_id(),
        client_secret_hash=credentials.digest(client_secret),
        webhook_url=spec.webhook_url,
        redirect_url=spec.redirect_url,
        events=list(spec.events),
        scopes=list(spec.scopes),
        verify_install=spec.verify_install,
        webhook_timeout=spec.webhook_timeout,
        rate_limit_per_second=spec.rate_limit_per_second,
        max_in_flight=spec.max_in_flight,
        fifo=spec.fifo,
        consecutive_failures=0,
        tracker_url=spec.tracker_url,
    )
    session.add(app)
    await session.flush()
    webhook_secret = add_webhook_secret(session, runtime, app)
    installation = None
    if spec.kind is AppKind.INTERNAL:
        installation = AppInstallation(
            organization_id=owner_id,
            app_id=app.id,
            status=AppInstallationStatus.INSTALLED,
            scopes=list(spec.scopes),
            installed_at=utcnow(),
        )
        session.add(installation)
        await session.flush()
        await record_change(session, installation, InstallChange.INSTALLED)
    return CreatedApp(app, client_secret, webhook_secret, installation)


def rotate_client_secret(app: App) -> str:
    """A new client secret; the old one stops working at once (it is only used server to server)."""
    secret = credentials.generate(credentials.CLIENT_SECRET)
    app.client_secret_hash = credentials.digest(secret)
    return secret


async def rotate_webhook_secret(session: AsyncSession, runtime: Runtime, app: App) -> tuple[str, datetime]:
    """A new signing key; current keys keep signing for 24 hours. Returns it and when the old ones stop."""
    now = utcnow()
    ends = now + WEBHOOK_SECRET_OVERLAP
    await session.execute(
        update(AppWebhookSecret)
        .where(
            AppWebhookSecret.app_id == app.id,
            (AppWebhookSecret.expires_at.is_(None)) | (AppWebhookSecret.expires_at > ends),
        )
        .values(expires_at=ends)
        .execution_options(synchronize_session=False)
    )
    return add_webhook_secret(session, runtime, app), ends


def installation_resource(inst: AppInstallation) -> dict[str, Any]:
    status = "pending" if inst.status is AppInstallationStatus.PENDING else "installed"
    return {
        "id": encode("AppInstallation", inst.id),
        "app_id": encode("App", inst.app_id),
        "organization_id": encode("Organization", inst.organization_id),
        "status": status,
        "scopes": sorted(inst.scopes),
        "created_at": inst.created_at.isoformat(),
    }


class AppInstallError(Invalid):
    """The app cannot be installed in that organization (a tracker's installation has its own errors)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="appId")


async def install(
    session: AsyncSession,
    runtime: Runtime,
    app: App,
    organization_id: int,
    actor: dict[str, Any] | None = None,
) -> Grant:
    """Install `app` in an organization (or reinstall it, keeping the same installation) with a grant.

    The code is returned to the caller in clear and travels to the app sealed (conduit.events.sealed):
    the outbox row and the delivery row keep it encrypted, only its hash is kept on the grant.
    """
    if app.kind is AppKind.INTERNAL and app.organization_id != organization_id:
        raise AppInstallError("an internal app is installed only in the organization that owns it")
    now = utcnow()
    status = AppInstallationStatus.PENDING if app.verify_install else AppInstallationStatus.INSTALLED
    inst = (
        await session.execute(
            select(AppInstallation).where(
                AppInstallation.app_id == app.id, AppInstallation.organization_id == organization_id
            )
        )
    ).scalar_one_or_none()
    was = None if inst is None else inst.status
    if inst is None:
        installed = await session.scalar(
            select(func.count())
            .select_from(AppInstallation)
            .where(AppInstallation.organization_id == organization_id)
        )
        if (installed or 0) >= MAX_INSTALLATIONS:
            raise AppInstallError(f"an organization installs at most {MAX_INSTALLATIONS} apps")
        inst = AppInstallation(
            organization_id=organization_id, app_id=app.id, status=status, scopes=app.scopes
        )
        session.add(inst)
    elif inst.status is AppInstallationStatus.UNINSTALLED:
        inst.status, inst.scopes, inst.uninstalled_at = status, list(app.scopes), None
    else:
        status = inst.status  # installing again only issues a fresh grant code
    if status is AppInstallationStatus.INSTALLED and inst.installed_at is None:
        inst.installed_at = now
    await session.flush()
    if status is AppInstallationStatus.INSTALLED and was in (None, AppInstallationStatus.UNINSTALLED):
        await record_change(session, inst, InstallChange.INSTALLED)
    code = credentials.generate(credentials.GRANT_CODE)
    expires_at = now + GRANT_LIFETIME
    session.add(AppGrant(installation_id=inst.id, code_hash=credentials.digest(code), expires_at=expires_at))
    emit(
        session,
        "installation.created",
        organization_id,
        {
            "app_installation": installation_resource(inst),
            "code": sealed.seal(runtime.secrets, code),
            "code_expires_at": expires_at.isoformat(),
        },
        actor=actor,
    )
    return Grant(inst, code, expires_at)


async def uninstall(
    session: AsyncSession, inst: AppInstallation, actor: dict[str, Any] | None = None
) -> None:
    """Revoke every token of the installation and tell the app; its deliveries stop with it."""
    if inst.status is AppInstallationStatus.UNINSTALLED:
        return
    now = utcnow()
    resource = installation_resource(inst)
    if inst.status is AppInstallationStatus.INSTALLED:
        await record_change(session, inst, InstallChange.UNINSTALLED)
    inst.status = AppInstallationStatus.UNINSTALLED
    inst.uninstalled_at = now
    await session.execute(
        update(AppToken)
        .where(AppToken.installation_id == inst.id, AppToken.revoked_at.is_(None))
        .values(revoked_at=now, pair_encrypted=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(AppGrant)
        .where(AppGrant.installation_id == inst.id, AppGrant.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    emit(session, "installation.deleted", inst.organization_id, {"app_installation": resource}, actor=actor)
