"""Which OAuth client an installation authorizes with: the one place a client is chosen.

Invariant: a client secret is only ever sent to the server it was registered with.

- The operator's clients (`Settings.tracker_clients`) are keyed by provider and origin. A cloud
  client (no origin) serves installations without a base URL, and nothing else.
- An installation on a base URL (GitHub Enterprise, Jira Data Center, the sandbox) uses the client
  given with it (`Installation.oauth_client_id` / `oauth_client_secret_enc`), or else the operator's
  client registered for exactly that origin — scheme, host and port compared after normalising, never
  a prefix — and never a cloud client.

`OAuthClients.for_installation` decides for the authorize URL, the code exchange, every refresh,
token revocation and the client a connector checks webhook signatures with, so no path can pick
another.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from conduit.connectors.oauth import ClientCredentials
from conduit.connectors.registry import provider
from conduit.crypto import SecretBox
from conduit.errors import Invalid
from conduit.settings import TrackerClient, url_origin

# Column sizes of Installation.oauth_client_id, and a bound on what a secret can sensibly be.
MAX_CLIENT_ID = 200
MAX_CLIENT_SECRET = 1000


# Both stay what they were before the error root (a LookupError, a ValueError) as well.
class NoOAuthClient(Invalid, LookupError):
    """No OAuth client may be used for this provider and server; the message says what to pass."""


class ClientError(Invalid, ValueError):
    """An OAuth client given with an installation that cannot be used; the message says why."""


class HasClient(Protocol):
    """What choosing a client reads of an installation (an `Installation` row)."""

    @property
    def provider(self) -> str: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def oauth_client_id(self) -> str | None: ...
    @property
    def oauth_client_secret_enc(self) -> str | None: ...


def check_own_client(client_id: str | None, client_secret: str | None) -> ClientCredentials | None:
    """A client given with an installation: both halves or neither, within bounds."""
    client_id = (client_id or "").strip()
    client_secret = (client_secret or "").strip()
    if not client_id and not client_secret:
        return None
    if not client_id or not client_secret:
        raise ClientError("pass clientId and clientSecret together (the OAuth app's id and its secret)")
    if len(client_id) > MAX_CLIENT_ID or len(client_secret) > MAX_CLIENT_SECRET:
        raise ClientError(
            f"clientId may be at most {MAX_CLIENT_ID} characters and clientSecret {MAX_CLIENT_SECRET}"
        )
    return ClientCredentials(client_id, client_secret)


class OAuthClients:
    def __init__(self, configured: Iterable[TrackerClient], secrets: SecretBox) -> None:
        self.secrets = secrets
        self._configured: dict[tuple[str, str | None], ClientCredentials] = {
            (c.provider, c.origin): ClientCredentials(c.client_id, c.client_secret) for c in configured
        }

    def operator_client(self, provider_key: str, base_url: str | None) -> ClientCredentials | None:
        """The operator's client for the provider's cloud (no base URL) or for exactly this origin."""
        origin = url_origin(base_url) if base_url else None
        return self._configured.get((provider_key, origin))

    def for_installation(self, installation: HasClient) -> ClientCredentials | None:
        """The client this installation authorizes with, or None when it has none."""
        if installation.oauth_client_id and installation.oauth_client_secret_enc:
            secret = self.secrets.decrypt(installation.oauth_client_secret_enc)
            return ClientCredentials(installation.oauth_client_id, secret)
        return self.operator_client(installation.provider, installation.base_url)

    def require(self, installation: HasClient) -> ClientCredentials:
        client = self.for_installation(installation)
        if client is None:
            raise NoOAuthClient(missing(installation.provider, installation.base_url))
        return client


def missing(provider_key: str, base_url: str | None) -> str:
    """What to do when no client serves `provider_key` at `base_url`."""
    name = provider(provider_key).name
    if base_url:
        return (
            f"no OAuth client is configured for {name} at {url_origin(base_url)}: register an OAuth app "
            f"on that server and pass its clientId and clientSecret to startInstallation, or ask the "
            f"operator to add one for this server to CONDUIT_TRACKER_CLIENTS"
        )
    key = provider_key.upper()
    return (
        f"no OAuth client is configured for {name}: pass clientId and clientSecret to "
        f"startInstallation, or ask the operator to set CONDUIT_{key}_CLIENT_ID and "
        f"CONDUIT_{key}_CLIENT_SECRET"
    )


__all__ = ["ClientError", "NoOAuthClient", "OAuthClients", "check_own_client", "missing"]
