"""The process-wide connector service: one guarded HTTP client, one credential store, the OAuth clients,
and connectors per installation, each bound to the OAuth client `OAuthClients` chose for it."""

from __future__ import annotations

import secrets as random_secrets
from dataclasses import dataclass

from sqlalchemy import update

from conduit.connectors.api import Api
from conduit.connectors.base import Connector
from conduit.connectors.clients import HasClient, OAuthClients
from conduit.connectors.config import ConfigError, SyncConfig
from conduit.connectors.errors import TrackerError
from conduit.connectors.http import DEFAULT_TIMEOUT, Auth, Target, TrackerHttp
from conduit.connectors.oauth import AuthorizationRequest, OAuthClient, authorization_request
from conduit.connectors.records import AccountRecord, TokenSet
from conduit.connectors.registry import connector_class, provider
from conduit.connectors.tokens import Credentials
from conduit.db.models import Installation, InstallationStatus
from conduit.egress import Resolver
from conduit.runtime import Resource, Runtime
from conduit.settings import Settings


class Connectors:
    def __init__(
        self,
        runtime: Runtime,
        *,
        settings: Settings | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        resolver: Resolver | None = None,
    ) -> None:
        """`settings` (default: the runtime's) gives the OAuth clients and the private-address switch;
        `resolver` replaces DNS for the address guard (tests)."""
        settings = settings or runtime.settings
        self.runtime = runtime
        self.allow_private = settings.allow_private_tracker_urls
        self.resolver = resolver
        self.http = TrackerHttp(
            runtime.sessions, timeout, allow_private=self.allow_private, resolver=resolver
        )
        self.oauth = OAuthClient(self.http)
        self.clients = OAuthClients(settings.tracker_clients, runtime.secrets)
        self.credentials = Credentials(runtime.sessions, runtime.secrets, self.oauth, self.clients)

    async def aclose(self) -> None:
        await self.http.aclose()

    def authorization_request(
        self, installation: HasClient, redirect_uri: str, state: str | None = None
    ) -> AuthorizationRequest:
        """Where to send the person to authorize `installation`; raises NoOAuthClient when no client
        may be used for its server."""
        spec = provider(installation.provider)
        client = self.clients.require(installation)
        return authorization_request(
            spec, spec.endpoints(installation.base_url), client.client_id, redirect_uri, state
        )

    def bind(self, installation: Installation, auth: Auth | None = None) -> Connector:
        """A connector acting for `installation` (its base URL, account, credentials and config);
        `auth` replaces its stored credentials (a pasted token being checked before it is kept)."""
        spec = provider(installation.provider)
        try:
            config = SyncConfig.from_json(installation.config)
        except ConfigError as exc:
            raise ConfigError(f"installation {installation.id}: {exc}") from None
        api = Api(
            http=self.http,
            provider=spec,
            target=Target(installation.id, installation.organization_id, installation.provider),
            endpoints=spec.endpoints(installation.base_url, installation.account_id),
            auth=auth or self.credentials.auth(installation.id),
            site_url=(installation.base_url or installation.account_url or "").rstrip("/") or None,
        )
        return connector_class(spec.key)(api, config, self.clients.for_installation(installation))

    async def connector(self, installation_id: int) -> Connector:
        async with self.runtime.sessions() as session:
            installation = await session.get(Installation, installation_id)
        if installation is None:
            raise LookupError(f"installation {installation_id} does not exist")
        return self.bind(installation)

    async def complete_install(
        self, installation_id: int, code: str, redirect_uri: str, code_verifier: str | None
    ) -> AccountRecord | None:
        """Exchange the code, keep the tokens, find the account: ACTIVE, or ERROR with a reason."""
        connector = await self.connector(installation_id)
        name = connector.provider.name
        if connector.client is None:
            reason = (
                f"no OAuth client may be used for this {name} server any more. Start the installation "
                "again with the clientId and clientSecret of an OAuth app registered on it."
            )
            await self._set_status(installation_id, InstallationStatus.ERROR, reason)
            return None
        try:
            tokens = await connector.exchange_code(code, redirect_uri, code_verifier)
            await self.credentials.store(installation_id, tokens)
            account = await connector.discover_account()
        except TrackerError as exc:
            reason = f"{name} refused the installation ({exc.message}). Start the installation again."
            await self._set_status(installation_id, InstallationStatus.ERROR, reason)
            return None
        await self._set_status(installation_id, InstallationStatus.ACTIVE, None, account)
        return account

    async def check_token(self, installation: Installation, token: str) -> AccountRecord:
        """The account a pasted API token acts for, read with one call; raises the tracker's refusal
        (a TrackerError) when it does not work. Nothing is stored."""
        return await self.bind(installation, PastedToken(token)).discover_account()

    async def keep_token(self, installation_id: int, token: str, account: AccountRecord) -> None:
        """Store a checked API token (encrypted) and make the installation ACTIVE for `account`."""
        await self.credentials.store(installation_id, TokenSet(token, None, None))
        await self._set_status(installation_id, InstallationStatus.ACTIVE, None, account)

    async def _set_status(
        self,
        installation_id: int,
        status: InstallationStatus,
        reason: str | None,
        account: AccountRecord | None = None,
    ) -> None:
        values: dict[str, object] = {"status": status, "status_reason": reason}
        if account is not None:
            values |= {"account_id": account.id, "account_name": account.name, "account_url": account.url}
        async with self.runtime.sessions() as session:
            await session.execute(
                update(Installation).where(Installation.id == installation_id).values(**values)
            )
            await session.commit()


@dataclass(frozen=True, slots=True)
class PastedToken:
    """`http.Auth` for a token an admin pasted: nothing to renew it with when it is refused."""

    value: str

    async def token(self) -> str | None:
        return self.value

    async def renew(self, rejected: str) -> str | None:
        return None


def new_webhook_secret() -> str:
    return random_secrets.token_urlsafe(32)


async def _close_connectors(service: Connectors) -> None:
    await service.aclose()


# The runtime's connector service; its HTTP client is closed with the runtime. Tests and benchmarks that
# need other options provide their own: `runtime.provide(CONNECTORS, Connectors(runtime, timeout=...))`.
CONNECTORS: Resource[Connectors] = Resource("the connector service", Connectors, _close_connectors)


def get_connectors(runtime: Runtime) -> Connectors:
    """The runtime's connector service, made on first use (its HTTP client is shared from then on)."""
    return runtime.get(CONNECTORS)
