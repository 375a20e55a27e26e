"""The tracker's webhook for each scope an installation links tickets in, registered on first use.

A tracker's webhook lives on a scope or carries a filter for one (a repository, a project), so they
are registered per scope. Where the API may not (missing rights, no API), the row says so and the
installation shows the URL and secret for a person to paste.
"""

from __future__ import annotations

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
                row.manual, row.error = registration.manual, None
        session.add(row)
        await session.commit()
        return row


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
