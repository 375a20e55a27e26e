"""Tracker installations: the provider catalog, installing over OAuth, config, uninstalling."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from conduit import errors, ids
from conduit.connectors.config import ConfigError, SyncConfig
from conduit.connectors.registry import PROVIDERS
from conduit.db import models
from conduit.db.tenancy import TenantScope
from conduit.schema.context import Info
from conduit.schema.errors import (
    ForbiddenError,
    NotFoundError,
    UnknownStatusError,
    ValidationError,
    user_error,
)
from conduit.schema.permissions import forbidden, require
from conduit.schema.trackers import Installation, Provider
from conduit.sync import install, people, statuses
from conduit.sync.uninstall import uninstall


@strawberry.input(description="Sync settings to change; a field left out keeps its value.")
class InstallationConfigInput:
    status_outbound: bool | None = strawberry.UNSET
    status_inbound: bool | None = strawberry.UNSET
    assignee_outbound: bool | None = strawberry.UNSET
    assignee_inbound: bool | None = strawberry.UNSET
    comments_outbound: bool | None = strawberry.UNSET
    resolved_statuses: list[str] | None = strawberry.UNSET
    resolve_status: str | None = strawberry.UNSET
    reopen_status: str | None = strawberry.UNSET
    issue_type: str | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not strawberry.UNSET}


@strawberry.type
class StartInstallationPayload:
    installation: Installation
    authorize_url: str = strawberry.field(
        description="Send the person here to approve access in the tracker."
    )
    webhook_url: str
    webhook_secret: str | None = strawberry.field(
        description="Shown this once, for a new installation: paste it with the webhook URL where the "
        "tracker's API may not register the webhook itself."
    )


@strawberry.type
class ConnectTrackerPayload:
    installation: Installation = strawberry.field(description="ACTIVE: the token worked.")
    webhook_url: str
    webhook_secret: str | None = strawberry.field(
        description="Shown this once, for a new installation: paste it with the webhook URL where the "
        "tracker's API may not register the webhook itself."
    )


@strawberry.type
class SetTrackerAccountPayload:
    member_id: strawberry.ID
    installation_id: strawberry.ID
    account: str | None = strawberry.field(description="The tracker user now mapped; null: none.")


@strawberry.type
class UpdateInstallationConfigPayload:
    installation: Installation


@strawberry.type
class UninstallPayload:
    installation_id: strawberry.ID
    webhooks_removed: int = strawberry.field(description="Webhooks Conduit had registered, now removed.")
    token_revoked: bool = strawberry.field(
        description="Whether the tracker revoked the grant (only trackers with a revoke endpoint do)."
    )
    leftovers: list[str] = strawberry.field(
        description="What could not be removed in the tracker: remove it there by hand."
    )


StartInstallationResult = Annotated[
    StartInstallationPayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("StartInstallationResult"),
]
ConnectTrackerResult = Annotated[
    ConnectTrackerPayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("ConnectTrackerResult"),
]
SetTrackerAccountResult = Annotated[
    SetTrackerAccountPayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("SetTrackerAccountResult"),
]
UpdateInstallationConfigResult = Annotated[
    UpdateInstallationConfigPayload | UnknownStatusError | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("UpdateInstallationConfigResult"),
]
UninstallResult = Annotated[
    UninstallPayload | NotFoundError | ForbiddenError | ValidationError, strawberry.union("UninstallResult")
]


@strawberry.type
class InstallationQuery:
    @strawberry.field(description="The trackers Conduit can connect to.")
    def providers(self) -> list[Provider]:
        return [Provider.from_spec(p) for p in PROVIDERS.values()]

    @strawberry.field
    async def installation(self, info: Info, id: strawberry.ID) -> Installation | None:
        require(info, "installation:read")
        pk = ids.pk_or_none(id, "Installation")
        row = await info.context.loaders.installation.load(pk) if pk else None
        return Installation.from_model(row) if row else None


@strawberry.type
class InstallationMutation:
    @strawberry.mutation(
        description="Begin installing a tracker: returns the URL to authorize Conduit at. Pass "
        "`installationId` to reconnect an existing installation, keeping its config and links. A "
        "self-hosted server (`baseUrl`) needs an OAuth app registered on it: pass its `clientId` and "
        "`clientSecret`, unless the operator configured one for that server."
    )
    async def start_installation(
        self,
        info: Info,
        provider: str,
        base_url: str | None = None,
        installation_id: strawberry.ID | None = None,
        client_id: Annotated[
            str | None,
            strawberry.argument(
                description="The OAuth app's client id on the tracker's server; kept with the installation."
            ),
        ] = None,
        client_secret: Annotated[
            str | None,
            strawberry.argument(
                description="The OAuth app's client secret; stored encrypted and never returned."
            ),
        ] = None,
    ) -> StartInstallationResult:
        if err := forbidden(info, "installation:write"):
            return err
        ctx = info.context
        org_id = ctx.viewer.organization_id
        base = base_url
        async with ctx.runtime.sessions() as session:
            existing = None
            if installation_id is not None:
                pk = ids.pk_or_none(installation_id, "Installation")
                existing = await TenantScope(session, org_id).get(models.Installation, pk) if pk else None
                if existing is None:
                    return NotFoundError(message="installation not found")
                if existing.provider != provider:
                    return ValidationError(
                        message="the installation is for another provider", field="provider"
                    )
                base = existing.base_url
            try:
                started = await install.start(
                    ctx.runtime,
                    session,
                    org_id,
                    provider,
                    base,
                    existing,
                    client_id=client_id,
                    client_secret=client_secret,
                )
            except install.InstallError as exc:
                return user_error(exc)
            await session.commit()
            row = started.installation
            return StartInstallationPayload(
                installation=Installation.from_model(row),
                authorize_url=started.authorize_url,
                webhook_url=install.webhook_url(ctx.runtime, row),
                webhook_secret=started.webhook_secret,
            )

    @strawberry.mutation(
        description="Connect a tracker that installs with an API token (a provider whose `authMode` is "
        "API_TOKEN): the token is checked with one call to the tracker, then stored encrypted and never "
        "returned. Pass `installationId` to replace the token of an existing installation, keeping its "
        "config and links. An in-house tracker (`authMode` APP, provider `inhouse`): `apiToken` is the "
        "whsec_ secret its service verifies Conduit's signed calls with (it is never sent), and `app` "
        "the app that declares the service's trackerUrl (an internal app only in its own organization)."
    )
    async def connect_tracker(
        self,
        info: Info,
        provider: str,
        api_token: str,
        base_url: str | None = None,
        installation_id: strawberry.ID | None = None,
        app: strawberry.ID | None = None,
    ) -> ConnectTrackerResult:
        if err := forbidden(info, "installation:write"):
            return err
        ctx = info.context
        org_id = ctx.viewer.organization_id
        existing = None
        if installation_id is not None:
            pk = ids.pk_or_none(installation_id, "Installation")
            async with ctx.runtime.sessions() as session:
                existing = await TenantScope(session, org_id).get(models.Installation, pk) if pk else None
            if existing is None:
                return NotFoundError(message="installation not found")
            if existing.provider != provider:
                return ValidationError(message="the installation is for another provider", field="provider")
        try:
            if app is not None:
                if provider not in PROVIDERS or PROVIDERS[provider].auth_mode != "app":
                    return ValidationError(
                        message="only an in-house tracker is connected from an app", field="app"
                    )
                base_url = await install.app_tracker_url(ctx.runtime, org_id, ids.pk_or_none(app, "App"))
            connected = await install.connect(ctx.runtime, org_id, provider, base_url, api_token, existing)
        except install.InstallError as exc:
            return user_error(exc)
        except errors.NotFound:
            return NotFoundError(message="app not found")
        row = connected.installation
        return ConnectTrackerPayload(
            installation=Installation.from_model(row),
            webhook_url=install.webhook_url(ctx.runtime, row),
            webhook_secret=connected.webhook_secret,
        )

    @strawberry.mutation(
        description="Say which tracker user a member is, for one installation, where the tracker hides "
        "emails: `account` is the tracker's stable id for the user (a GitHub login, a Jira accountId, a "
        "Linear user id, a GitLab user id, a Shortcut member id). Assignments and comments then map "
        "both ways. A null `account` removes the mapping."
    )
    async def set_tracker_account(
        self, info: Info, member_id: strawberry.ID, installation_id: strawberry.ID, account: str | None
    ) -> SetTrackerAccountResult:
        if err := forbidden(info, "installation:write"):
            return err
        value = account.strip() if account is not None else None
        if value is not None and (
            not value or len(value) > 200 or any(c.isspace() or ord(c) < 32 for c in value)
        ):
            return ValidationError(
                message="account must be the tracker's id for the user: 1 to 200 characters, no spaces",
                field="account",
            )
        org_id = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, org_id)
            member_pk = ids.pk_or_none(member_id, "Member")
            member = await scope.get(models.Member, member_pk) if member_pk else None
            if member is None:
                return NotFoundError(message="member not found")
            installation_pk = ids.pk_or_none(installation_id, "Installation")
            row = await scope.get(models.Installation, installation_pk) if installation_pk else None
            if row is None:
                return NotFoundError(message="installation not found")
            if value is None:
                await people.forget(session, row, member.id)
            else:
                await people.remember(session, row, member.id, value)
            await session.commit()
        return SetTrackerAccountPayload(member_id=member_id, installation_id=installation_id, account=value)

    @strawberry.mutation(description="Change how an installation syncs; fields left out keep their value.")
    async def update_installation_config(
        self, info: Info, installation_id: strawberry.ID, config: InstallationConfigInput
    ) -> UpdateInstallationConfigResult:
        if err := forbidden(info, "installation:write"):
            return err
        pk = ids.pk_or_none(installation_id, "Installation")
        async with info.context.runtime.sessions() as session:
            scope = TenantScope(session, info.context.viewer.organization_id)
            row = await scope.get(models.Installation, pk) if pk else None
            if row is None:
                return NotFoundError(message="installation not found")
            merged: dict[str, Any] = {**SyncConfig.from_json(row.config).to_json(), **config.changes()}
            try:
                wanted = SyncConfig.from_json(merged)
            except ConfigError as exc:
                return user_error(exc, field="config")
            try:
                await statuses.check(info.context.runtime, row, wanted)
            except statuses.UnknownStatuses as exc:
                # An `Invalid`, but with its own type: it lists the unknown and the valid statuses.
                return UnknownStatusError(
                    message=str(exc), field=exc.field, unknown=exc.unknown, valid_statuses=exc.valid
                )
            except errors.Upstream as exc:
                # Not `user_error`: the result union has no TrackerError, and what failed is the check of
                # the config, so the config is what the message is about.
                return ValidationError(
                    message=f"the tracker's statuses could not be read to check the config: {exc.message}",
                    field="config",
                )
            row.config = wanted.to_json()
            await session.commit()
            return UpdateInstallationConfigPayload(installation=Installation.from_model(row))

    @strawberry.mutation(
        description="Remove an installation with its cached tickets and links, after removing the webhooks "
        "Conduit registered in the tracker and revoking the grant where the tracker allows."
    )
    async def uninstall(self, info: Info, installation_id: strawberry.ID) -> UninstallResult:
        if err := forbidden(info, "installation:write"):
            return err
        pk = ids.pk_or_none(installation_id, "Installation")
        org_id = info.context.viewer.organization_id
        async with info.context.runtime.sessions() as session:
            row = await TenantScope(session, org_id).get(models.Installation, pk) if pk else None
            if row is None:
                return NotFoundError(message="installation not found")
        removed = await uninstall(info.context.runtime, row, info.context.viewer.actor)
        return UninstallPayload(
            installation_id=installation_id,
            webhooks_removed=removed.webhooks_removed,
            token_revoked=removed.token_revoked,
            leftovers=removed.leftovers,
        )
