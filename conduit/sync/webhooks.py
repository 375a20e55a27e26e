"""The tracker's webhook for each scope an installation links tickets in, registered on first use.

A tracker's webhook lives on a scope or carries a filter for one (a repository, a project), so they
are registered per scope. Where the API may not (missing rights, no API), the row says so and the
installation shows the URL and secret for a person to paste.

Each row keeps the URL the tracker was given. A webhook whose URL is no longer the one Conduit would
give (registered before hook URLs carried the installation's opaque token, or before the public URL
moved) is moved by reconcile: the old registration removed, a new one made at the current URL.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sqlalchemy import select

from conduit.connectors import get_connectors
from conduit.connectors.errors import Forbidden, InvalidRequest, NotFound, RateLimited, Unavailable
from conduit.db.base import utcnow
from conduit.db.models import Installation, InstallationStatus
from conduit.db.models.integrations import TrackerWebhook
from conduit.runtime import Runtime
from conduit.sync.install import webhook_url

# Some trackers expire webhooks (`Provider.webhook_lifetime`); refresh those with less than this left.
REFRESH_BEFORE = timedelta(days=7)


async def ensure(runtime: Runtime, installation_id: int, scope: str) -> TrackerWebhook | None:
    """Register the webhook for `scope` unless it is there; a refusal is recorded, not raised."""
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        if installation is None or installation.status is not InstallationStatus.ACTIVE:
            return None
        existing = (
            await session.execute(
                select(TrackerWebhook).where(
                    TrackerWebhook.installation_id == installation_id, TrackerWebhook.scope == scope
                )
            )
        ).scalar_one_or_none()
        if existing is not None and (existing.external_id or existing.manual):
            return existing
        secret = runtime.secrets.decrypt(installation.webhook_secret_enc or "") or ""
        url = webhook_url(runtime, installation)
        connector = get_connectors(runtime).bind(installation)
        row = existing or TrackerWebhook(
            organization_id=installation.organization_id, installation_id=installation_id, scope=scope
        )
        if not installation.webhook_secret_enc or not connector.provider.webhook_api:
            row.manual, row.error = True, f"{connector.provider.name}'s API cannot create this webhook"
        else:
            try:
                registration = await connector.register_webhook(scope, url, secret)
            except (RateLimited, Unavailable):
                raise  # passing: the job tries again
            except (Forbidden, NotFound, InvalidRequest) as exc:
                row.manual = True
                row.error = (
                    f"{connector.provider.name} refused to create the webhook for {scope} ({exc.message}). "
                    f"Add it by hand with the installation's webhook URL and secret."
                )[:1000]
            else:
                row.external_id, row.expires_at = registration.id, registration.expires_at
                row.manual, row.error, row.url = registration.manual, None, url
        session.add(row)
        await session.commit()
        return row


async def move_stale(runtime: Runtime, installation_id: int) -> int:
    """Register again, at the current URL, the webhooks the tracker has at another; returns how many.

    A registration the tracker no longer has is simply replaced. A webhook a person added by hand
    cannot be moved by Conduit: its row says what to change, once.
    """
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        if installation is None or installation.status is not InstallationStatus.ACTIVE:
            return 0
        url = webhook_url(runtime, installation)
        rows = list(
            (
                await session.execute(
                    select(TrackerWebhook).where(
                        TrackerWebhook.installation_id == installation_id,
                        (TrackerWebhook.url.is_(None)) | (TrackerWebhook.url != url),
                    )
                )
            ).scalars()
        )
        if not rows:
            return 0
        connector = get_connectors(runtime).bind(installation)
        secret = runtime.secrets.decrypt(installation.webhook_secret_enc or "") or ""
        moved = 0
        for row in rows:
            if row.external_id is None:
                if row.manual:
                    row.error = (
                        "Conduit's webhook URL for this installation changed: change the webhook added by "
                        "hand to the installation's webhookUrl."
                    )
                row.url = url
                continue
            with contextlib.suppress(NotFound):  # already gone at the tracker
                await connector.unregister_webhook(row.scope, row.external_id)
            registration = await connector.register_webhook(row.scope, url, secret)
            row.external_id, row.expires_at = registration.id, registration.expires_at
            row.manual, row.error, row.url = registration.manual, None, url
            moved += 1
            # One commit per webhook: a failure later leaves the ones already moved recorded.
            await session.commit()
        await session.commit()
        return moved


async def refresh_expiring(runtime: Runtime, installation_id: int) -> int:
    """Extend webhooks that expire within REFRESH_BEFORE; returns how many were refreshed."""
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        if installation is None:
            return 0
        rows = list(
            (
                await session.execute(
                    select(TrackerWebhook).where(
                        TrackerWebhook.installation_id == installation_id,
                        TrackerWebhook.external_id.is_not(None),
                        TrackerWebhook.expires_at.is_not(None),
                        TrackerWebhook.expires_at < utcnow() + REFRESH_BEFORE,
                    )
                )
            ).scalars()
        )
        if not rows:
            return 0
        connector = get_connectors(runtime).bind(installation)
        for row in rows:
            assert row.external_id is not None
            row.expires_at = await connector.refresh_webhook(row.external_id)
        await session.commit()
        return len(rows)
