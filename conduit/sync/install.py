"""Installing a tracker: the authorize URL with a single-use state, the callback, and the code exchange;
or, for a tracker most teams connect with an API token, the pasted token checked with one call.

The state is random, stored only as a hash, bound to the organization and the installation, valid for
ten minutes and spent by the callback in one guarded UPDATE, so a replayed callback finds nothing.

A base URL is checked before anything is stored: an http(s) server address, no credentials, query or
fragment, and a host that resolves to addresses Conduit may call (the same guard every tracker call
passes again at connect time). The OAuth client is chosen by `conduit.connectors.clients`: on a base
URL, the one given with the installation or the operator's for exactly that server, never the cloud's.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets as random_secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import get_connectors
from conduit.connectors.catalog import Provider
from conduit.connectors.clients import ClientError, NoOAuthClient, check_own_client
from conduit.connectors.errors import TrackerError
from conduit.connectors.http import PRIVATE_SETTING
from conduit.connectors.registry import provider
from conduit.db.base import utcnow
from conduit.db.models import App, AppKind, Installation, InstallationStatus
from conduit.db.models.integrations import OAuthState
from conduit.egress import UnresolvableHost, WebhookURLError, check_host
from conduit.errors import Invalid, NotFound
from conduit.events.emit import emit
from conduit.events.resources import installation_resource
from conduit.jobs import outbox
from conduit.runtime import Runtime

STATE_LIFETIME = timedelta(minutes=10)
INSTALL_KIND = "tracker.install"
FAILED_EVENT = "tracker_installation.failed"
MAX_BASE_URL = 500
MAX_API_TOKEN = 1000
# How long resolving a base URL's host may take while the person waits for startInstallation.
RESOLVE_TIMEOUT = 5.0


class InstallError(Invalid, ValueError):
    """The installation cannot start or finish; the message says what to do, `field` which argument.
    Still a ValueError, as it was before the error root, for callers that catch that."""

    def __init__(self, message: str, field: str = "provider") -> None:
        super().__init__(message, field)


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def callback_url(runtime: Runtime, provider_key: str) -> str:
    return f"{runtime.settings.public_url.rstrip('/')}/oauth/{provider_key}/callback"


def webhook_url(runtime: Runtime, installation: Installation) -> str:
    base = runtime.settings.public_url.rstrip("/")
    return f"{base}/hooks/{installation.provider}/{installation.hook_token}"


def _bad_base_url(why: str) -> InstallError:
    return InstallError(
        f"baseUrl {why}; give the server's address, e.g. https://tracker.example.com", "baseUrl"
    )


def parse_base_url(base_url: str | None) -> httpx.URL | None:
    """The shape of a base URL, without resolving it; None for the provider's cloud."""
    if base_url is None or not base_url.strip():
        return None
    value = base_url.strip()
    if len(value) > MAX_BASE_URL:
        raise _bad_base_url(f"is longer than {MAX_BASE_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise _bad_base_url("contains spaces or control characters")
    try:
        parsed = httpx.URL(value)
        # Reading the host decodes IDNA labels, which fails for a malformed punycode label (`xn--a`).
        parsed.host  # noqa: B018
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise _bad_base_url(f"is not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise _bad_base_url(f"must use http or https, not {parsed.scheme or 'no scheme'!r}")
    if parsed.userinfo:
        raise _bad_base_url("may not carry credentials (user:password@); Conduit authorizes over OAuth")
    if not parsed.host:
        raise _bad_base_url("has no host")
    if parsed.port == 0:
        raise _bad_base_url("has port 0")
    if parsed.query or parsed.fragment or "?" in value or "#" in value:
        raise _bad_base_url("may not have a ?query or #fragment")
    return parsed


async def check_base_url(runtime: Runtime, base_url: str | None) -> str | None:
    """A tenant's base URL, normalised, once its host resolves to addresses Conduit may call."""
    parsed = parse_base_url(base_url)
    if parsed is None:
        return None
    service = get_connectors(runtime)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            await check_host(
                parsed.host,
                port,
                allow_private=service.allow_private,
                resolver=service.resolver,
                setting=PRIVATE_SETTING,
            )
    except TimeoutError:
        raise InstallError(f"baseUrl's host {parsed.host} did not resolve in time", "baseUrl") from None
    except UnresolvableHost:
        raise InstallError(f"baseUrl's host {parsed.host} does not resolve", "baseUrl") from None
    except WebhookURLError as exc:
        raise InstallError(f"baseUrl is refused: {exc}", "baseUrl") from None
    return str(parsed).rstrip("/")


@dataclass(frozen=True, slots=True)
class Started:
    installation: Installation
    authorize_url: str
    # Shown once, when a new installation is made: where to paste it if the tracker's API may not.
    webhook_secret: str | None


async def start(
    runtime: Runtime,
    session: AsyncSession,
    organization_id: int,
    provider_key: str,
    base_url: str | None,
    installation: Installation | None = None,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> Started:
    """A new PENDING installation (or `installation`, to reconnect it keeping its config and links).

    `client_id` / `client_secret`: an OAuth app registered on the installation's server, kept
    (encrypted) with it; on reconnect they replace the one it had. Raises InstallError naming the
    argument at fault. Nothing is written to `session` before every check has passed.
    """
    spec = _provider(provider_key)
    if spec.auth_mode != "oauth2":
        raise InstallError(
            f"{spec.name} connects with an API token, not OAuth: call connectTracker with one", "provider"
        )
    base = await check_base_url(runtime, installation.base_url if installation else base_url)
    try:
        own = check_own_client(client_id, client_secret)
    except ClientError as exc:
        raise InstallError(str(exc), "clientId") from None
    secret: str | None = None
    if installation is None:
        secret = random_secrets.token_urlsafe(32)
        installation = Installation(
            organization_id=organization_id,
            provider=spec.key,
            base_url=base,
            config={},
            webhook_secret_enc=runtime.secrets.encrypt(secret),
        )
    if own is not None:
        installation.oauth_client_id = own.client_id
        installation.oauth_client_secret_enc = runtime.secrets.encrypt(own.client_secret)
    redirect_uri = callback_url(runtime, spec.key)
    try:
        request = get_connectors(runtime).authorization_request(installation, redirect_uri)
    except NoOAuthClient as exc:
        raise InstallError(str(exc), "clientId") from None
    if installation.id is None:
        session.add(installation)
        await session.flush()
    session.add(
        OAuthState(
            organization_id=organization_id,
            installation_id=installation.id,
            provider=spec.key,
            state_hash=state_hash(request.state),
            code_verifier_enc=runtime.secrets.encrypt(request.code_verifier)
            if request.code_verifier
            else None,
            redirect_uri=redirect_uri,
            expires_at=utcnow() + STATE_LIFETIME,
        )
    )
    return Started(installation, request.url, secret)


def _provider(provider_key: str) -> Provider:
    try:
        return provider(provider_key)
    except ValueError as exc:
        raise InstallError(str(exc)) from None


def check_api_token(token: str) -> str:
    """A pasted API token's shape, before any call: one line of printable characters."""
    value = token.strip()
    if not value:
        raise InstallError("apiToken is empty; paste the token the tracker issued", "apiToken")
    if len(value) > MAX_API_TOKEN:
        raise InstallError(f"apiToken is longer than {MAX_API_TOKEN} characters", "apiToken")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise InstallError("apiToken contains spaces or control characters", "apiToken")
    return value


async def connect(
    runtime: Runtime,
    organization_id: int,
    provider_key: str,
    base_url: str | None,
    api_token: str,
    installation: Installation | None = None,
) -> Started:
    """Connect a tracker that installs with a pasted API token: checked with one call to the tracker,
    then stored encrypted and the installation ACTIVE. `installation` reconnects an existing one,
    keeping its config and links; its old token stays until the new one has passed the check.

    Raises InstallError (the argument at fault) for a bad token or base URL, and for a token the
    tracker refused, with the tracker's own words; a new installation is not kept then.
    """
    spec = _provider(provider_key)
    if spec.auth_mode not in ("api_token", "app"):
        raise InstallError(
            f"{spec.name} connects over OAuth: call startInstallation and approve access in {spec.name}",
            "provider",
        )
    token = check_api_token(api_token)
    base = await check_base_url(runtime, installation.base_url if installation else base_url)
    if spec.auth_mode == "app" and base is None:
        raise InstallError(f"an {spec.name} is at its service's contract URL: pass app (or baseUrl)", "app")
    service = get_connectors(runtime)
    secret: str | None = None
    if installation is None:
        secret = random_secrets.token_urlsafe(32)
        async with runtime.sessions() as session:
            installation = Installation(
                organization_id=organization_id,
                provider=spec.key,
                base_url=base,
                config={},
                webhook_secret_enc=runtime.secrets.encrypt(secret),
            )
            session.add(installation)
            await session.commit()
        fresh = True
    else:
        fresh = False
    try:
        account = await service.check_token(installation, token)
    except TrackerError as exc:
        if fresh:
            async with runtime.sessions() as session:
                await session.execute(delete(Installation).where(Installation.id == installation.id))
                await session.commit()
        raise InstallError(f"{spec.name} refused the token ({exc.message})", "apiToken") from None
    if installation.account_id and installation.account_id != account.id:
        # A reconnect keeps the links it has: they name tickets of the account it was made for.
        raise InstallError(
            f"the token acts for {account.name}, not {installation.account_name}, which this "
            "installation is connected to; connect a new installation instead",
            "apiToken",
        )
    await service.keep_token(installation.id, token, account)
    async with runtime.sessions() as session:
        row = await session.get(Installation, installation.id)
        assert row is not None
    return Started(row, "", secret)


async def app_tracker_url(runtime: Runtime, organization_id: int, app_id: int | None) -> str:
    """The contract base URL of an app that is a tracker, if `organization_id` may install it: its own
    apps of either kind, and PUBLIC apps of any organization. Any other app, deleted or not there, is
    one and the same NotFound, so an organization learns nothing of another's internal apps."""
    async with runtime.sessions() as session:
        # Read by id, not through TenantScope: a PUBLIC app is another organization's by design; the
        # check below is the tenancy rule for apps as trackers.
        app = await session.get(App, app_id) if app_id else None
    visible = app is not None and app.deleted_at is None
    if (
        app is None
        or not visible
        or (app.organization_id != organization_id and app.kind is not AppKind.PUBLIC)
    ):
        raise NotFound("app not found")
    if not app.tracker_url:
        raise InstallError(f"the app {app.name!r} is not a tracker: it declares no trackerUrl", "app")
    return app.tracker_url


async def accept_callback(
    runtime: Runtime, provider_key: str, state: str, code: str | None, error: str | None
) -> Installation:
    """Spend the state and hand the code to the install job; raises InstallError for a bad callback."""
    async with runtime.sessions() as session:
        row = (
            await session.execute(select(OAuthState).where(OAuthState.state_hash == state_hash(state)))
        ).scalar_one_or_none()
        if row is None or row.provider != provider_key:
            raise InstallError("this authorization is not one Conduit started; start the installation again")
        now = utcnow()
        spent = await session.execute(
            update(OAuthState)
            .where(OAuthState.id == row.id, OAuthState.used_at.is_(None), OAuthState.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if not spent.rowcount:  # type: ignore[attr-defined]
            raise InstallError(
                "this authorization was already used or is more than 10 minutes old; start the "
                "installation again"
            )
        installation = await session.get(Installation, row.installation_id)
        assert installation is not None  # the state row is deleted with its installation
        name = provider(provider_key).name
        if error or not code:
            reason = (
                f"{name} did not authorize Conduit ({error or 'no code was returned'}). Start the "
                f"installation again and approve access in {name}."
            )
            installation.status, installation.status_reason = InstallationStatus.ERROR, reason
            emit(session, FAILED_EVENT, installation.organization_id, failed_data(installation))
        else:
            outbox.enqueue(
                session,
                INSTALL_KIND,
                row.id,
                runtime.secrets.encrypt(code),
                organization_id=installation.organization_id,
            )
        await session.commit()
        return installation


def failed_data(installation: Installation) -> dict[str, Any]:
    return {"installation": installation_resource(installation)}


async def complete(runtime: Runtime, state_id: int, code_enc: str) -> InstallationStatus:
    """Exchange the code, find the account: ACTIVE, or ERROR with a reason a person can act on."""
    async with runtime.sessions() as session:
        state = await session.get(OAuthState, state_id)
        if state is None:
            return InstallationStatus.ERROR  # the installation was removed meanwhile
        installation_id, redirect_uri = state.installation_id, state.redirect_uri
        verifier = runtime.secrets.decrypt(state.code_verifier_enc) if state.code_verifier_enc else None
    service = get_connectors(runtime)
    account = await service.complete_install(
        installation_id, runtime.secrets.decrypt(code_enc), redirect_uri, verifier
    )
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        assert installation is not None
        if account is None:
            emit(session, FAILED_EVENT, installation.organization_id, failed_data(installation))
        # The verifier is of no use any more; keep no secret longer than needed.
        await session.execute(
            update(OAuthState).where(OAuthState.id == state_id).values(code_verifier_enc=None)
        )
        await session.commit()
        return installation.status
