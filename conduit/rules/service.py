"""Saving rules: the checks that need the database or the tracker, then the row.

`RuleSpec.check` refuses what is wrong on its face; here the installation must be one of the
organization's and active, the target must exist in its tracker (asked with one search call, so a
typo'd repository is refused when the rule is saved, not when it first fires), the statuses the
installation resolves and reopens tickets with must exist for that target (or a regression of the
rule's issue could not reopen its ticket), and the assignee must be a member. Reads are scoped by the
organization where they are built.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import Connector, SyncConfig, get_connectors
from conduit.connectors.config import ConfigError
from conduit.connectors.errors import InvalidRequest, NotFound
from conduit.db.base import utcnow
from conduit.db.models import Installation, InstallationStatus, Member, Project, Rule
from conduit.db.tenancy import TenantScope
from conduit.rules.definition import RuleInvalid, RuleSpec
from conduit.runtime import Runtime

MAX_RULES_PER_PROJECT = 100


class StatusMissing(RuleInvalid):
    """The installation's config names statuses the target's tracker lacks (`unknown`; `valid` are
    those it has); `field` is the rule's input the statuses were checked for."""

    def __init__(self, message: str, field: str, unknown: list[str], valid: list[str]) -> None:
        super().__init__(message, field)
        self.unknown, self.valid = unknown, valid


async def check(
    runtime: Runtime, scope: TenantScope, spec: RuleSpec, *, ask_tracker: bool = True
) -> RuleSpec:
    """The spec, checked against the organization's rows and (unless not to `ask_tracker`: the preview,
    which calls no tracker) the tracker; RuleInvalid naming the field."""
    spec = spec.check()
    if spec.assignee_id is not None and await scope.get(Member, spec.assignee_id) is None:
        raise RuleInvalid("no member of this organization has that id", "assigneeId")
    if spec.installation_id is None:
        return spec
    installation = await scope.get(Installation, spec.installation_id)
    if installation is None:
        raise RuleInvalid("no tracker installation of this organization has that id", "installationId")
    if installation.status is not InstallationStatus.ACTIVE:
        raise RuleInvalid(
            f"the installation is {installation.status.value}: "
            f"{installation.status_reason or 'finish installing it first'}",
            "installationId",
        )
    if not ask_tracker:
        return spec
    connector = get_connectors(runtime).bind(installation)
    try:
        # Listing what changed in the target since now reads (almost) nothing, and is refused for a
        # target the tracker does not have; a tracker that cannot list is asked with a search.
        if await connector.changed_since(spec.target or "", utcnow()) is None:
            await connector.search(spec.target or "", "", limit=1)
        # A tracker whose listing of an unknown target is empty (an in-house service) says it here.
        valid = await connector.statuses([spec.target or ""])
    except (NotFound, InvalidRequest) as exc:
        raise RuleInvalid(
            f"{connector.provider.name} has no {spec.target!r} this installation can see: {exc.message}",
            "target",
        ) from None
    _statuses_exist(connector, installation, spec.target or "", valid)
    return spec


def _statuses_exist(connector: Connector, installation: Installation, target: str, valid: list[str]) -> None:
    """StatusMissing when the installation's config names a status the target does not have."""
    try:
        config = SyncConfig.from_json(installation.config)
    except ConfigError:
        return  # nothing usable to check; the installation's own config check says what is wrong
    named = {
        "reopenStatus": [config.reopen_status] if config.reopen_status else [],
        "resolveStatus": [config.resolve_status] if config.resolve_status else [],
        "resolvedStatuses": list(config.resolved_statuses),
    }
    known = {v.casefold() for v in valid}
    for setting, names in named.items():
        unknown = [n for n in names if n.casefold() not in known]
        if unknown:
            raise StatusMissing(
                f"{connector.provider.name} has no status {', '.join(map(repr, unknown))} in {target!r}, "
                f"which the installation's `{setting}` names: a ticket of this rule could not be "
                f"{'reopened' if setting == 'reopenStatus' else 'resolved'}. "
                f"Valid: {', '.join(valid)}",
                "target",
                unknown,
                valid,
            )


async def create(
    runtime: Runtime, session: AsyncSession, organization_id: int, project_id: int, spec: RuleSpec
) -> Rule | None:
    """The new rule, or None when the project is not the organization's."""
    scope = TenantScope(session, organization_id)
    if await scope.get(Project, project_id) is None:
        return None
    spec = await check(runtime, scope, spec)
    count = len(await scope.scalars(scope.select(Rule).where(Rule.project_id == project_id)))
    if count >= MAX_RULES_PER_PROJECT:
        raise RuleInvalid(f"a project has at most {MAX_RULES_PER_PROJECT} rules", "projectId")
    row = spec.apply(Rule(organization_id=organization_id, project_id=project_id))
    session.add(row)
    await session.flush()
    return row


async def update(runtime: Runtime, session: AsyncSession, row: Rule, spec: RuleSpec) -> Rule:
    spec = await check(runtime, TenantScope(session, row.organization_id), spec)
    return spec.apply(row)
