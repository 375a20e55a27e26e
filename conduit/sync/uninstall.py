"""Uninstalling a tracker: take down what Conduit set up there, then forget the installation.

The tracker's webhooks Conduit registered are removed and the grant is revoked where the tracker
has an endpoint for it (`Connector.revoke`). Each step is best effort: an installation whose grant is already
dead, or a tracker that is down, must still be removable; what could not be undone is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from conduit.connectors import get_connectors
from conduit.connectors.errors import TrackerError
from conduit.db.models import Installation, InstallationStatus
from conduit.db.models.integrations import TrackerWebhook
from conduit.events.emit import emit
from conduit.runtime import Runtime
from conduit.sync.install import failed_data

REMOVED_EVENT = "tracker_installation.removed"


@dataclass
class Removed:
    webhooks_removed: int = 0
    token_revoked: bool = False
    # What could not be undone in the tracker, for the person to clean up there.
    leftovers: list[str] = field(default_factory=list)


async def uninstall(runtime: Runtime, installation: Installation, actor: dict[str, str]) -> Removed:
    """`installation` is a tenant-checked row; it is deleted (with its tickets and links) at the end."""
    removed = Removed()
    async with runtime.sessions() as session:
        hooks = list(
            (
                await session.execute(
                    select(TrackerWebhook).where(
                        TrackerWebhook.installation_id == installation.id,
                        TrackerWebhook.external_id.is_not(None),
                    )
                )
            ).scalars()
        )
    name = installation.provider
    if installation.status is InstallationStatus.ACTIVE:
        service = get_connectors(runtime)
        connector = service.bind(installation)
        for hook in hooks:
            assert hook.external_id is not None
            try:
                await connector.unregister_webhook(hook.scope, hook.external_id)
                removed.webhooks_removed += 1
            except TrackerError as exc:
                removed.leftovers.append(f"the {name} webhook for {hook.scope} ({exc.message})")
        try:
            token = await service.credentials.access_token(installation.id)
            removed.token_revoked = bool(token) and await connector.revoke(token or "")
        except TrackerError as exc:
            removed.leftovers.append(f"the {name} grant could not be revoked ({exc.message})")
    elif hooks:
        removed.leftovers += [f"the {name} webhook for {h.scope}" for h in hooks]
    async with runtime.sessions() as session:
        row = await session.get(Installation, installation.id)
        if row is not None:
            data = {
                **failed_data(row),
                "webhooks_removed": removed.webhooks_removed,
                "token_revoked": removed.token_revoked,
                "leftovers": removed.leftovers,
            }
            emit(session, REMOVED_EVENT, row.organization_id, data, actor=actor)
            await session.delete(row)
            await session.commit()
    return removed
