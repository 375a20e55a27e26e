"""Checking the status names of an installation's config against what its tracker really has."""

from __future__ import annotations

from sqlalchemy import select

from conduit.connectors import SyncConfig, get_connectors
from conduit.db.models import ExternalIssue, Installation, InstallationStatus
from conduit.db.models.integrations import TrackerWebhook
from conduit.errors import Invalid
from conduit.runtime import Runtime
from conduit.sync.links import scope_of


class UnknownStatuses(Invalid, ValueError):
    """Config `field` names statuses the tracker lacks (`unknown`); `valid` are those it has. An `Invalid`
    naming the field; GraphQL shows it as its own `UnknownStatusError`, which lists both."""

    def __init__(self, field: str, unknown: list[str], valid: list[str]) -> None:
        super().__init__(
            f"`{field}` names status(es) the tracker does not have: {', '.join(unknown)}. "
            f"Valid: {', '.join(valid)}",
            field,
        )
        self.unknown, self.valid = unknown, valid


async def check(runtime: Runtime, installation: Installation, config: SyncConfig) -> None:
    """Raise UnknownStatuses for the first config field naming a status the tracker lacks.

    Statuses may differ per scope (a project's workflow): the scopes the installation already works
    in are asked.
    With none yet (or an inactive installation) there is nothing to check against."""
    named = {
        "resolvedStatuses": list(config.resolved_statuses),
        "resolveStatus": [config.resolve_status] if config.resolve_status else [],
        "reopenStatus": [config.reopen_status] if config.reopen_status else [],
    }
    if not any(named.values()) or installation.status is not InstallationStatus.ACTIVE:
        return
    async with runtime.sessions() as session:
        keys = (
            await session.execute(
                select(ExternalIssue.key).where(ExternalIssue.installation_id == installation.id)
            )
        ).scalars()
        hooks = (
            await session.execute(
                select(TrackerWebhook.scope).where(TrackerWebhook.installation_id == installation.id)
            )
        ).scalars()
        scopes = list(dict.fromkeys([*hooks, *(scope_of(installation.provider, k) for k in keys)]))
    if not scopes:
        return
    valid = await get_connectors(runtime).bind(installation).statuses(scopes)
    known = {v.casefold() for v in valid}
    for field, names in named.items():
        unknown = [n for n in names if n.casefold() not in known]
        if unknown:
            raise UnknownStatuses(field, unknown, valid)
