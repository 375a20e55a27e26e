"""What a provider's catalog entry says: where its OAuth and REST endpoints are, how its tokens behave.

Each tracker package declares its own entry (`conduit/connectors/<name>/catalog.py`) as plain data;
code lives in the connector only where behaviour differs. URL templates take `{base}` (an
installation's base URL, for self-hosted trackers and the sandbox) and, for the cloud, `{account}`
(the cloud's id for the site, where the provider has one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorize: str
    token: str
    api: str
    # Where the sites a token can reach are listed (on clouds with several sites per grant); None when
    # the base URL is the site.
    resources: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    # Whether a refresh invalidates the refresh token it used (so two racing refreshes break a grant).
    rotating: bool
    # Assumed lifetime (s) of an access token whose reply has no expires_in but came with a refresh
    # token: without one, such a token would never be refreshed and would die silently.
    default_lifetime: int | None
    # Refresh this long before the stored expiry.
    margin: int = 300


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    remaining: str | None
    reset: str | None  # epoch seconds
    retry_after: str = "retry-after"
    # Wait this long when a limit is hit and the tracker says nothing about when it lifts.
    fallback: float = 60.0


@dataclass(frozen=True, slots=True)
class Provider:
    key: str
    name: str
    # "oauth2": installed through the provider's OAuth flow. "api_token": installed by pasting a token
    # the tracker issued (checked with a call, stored encrypted), where that is how most teams connect.
    # "app": a service an app declares as a tracker (an in-house tracker), installed with the shared
    # secret both sides hold; the secret signs every call and never travels.
    auth_mode: Literal["oauth2", "api_token", "app"]
    cloud: Endpoints
    self_hosted: Endpoints
    scopes: tuple[str, ...]
    scope_separator: str
    pkce: bool
    refresh: RefreshPolicy
    rate_limit: RateLimitHeaders
    # Added to the authorize URL as is (e.g. an audience and a consent prompt).
    authorize_params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Headers every REST call carries.
    api_headers: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # How a call carries the token: the header, and what precedes the token in it.
    token_header: str = "Authorization"
    token_prefix: str = "Bearer "
    # Whether the API can register the tracker's webhook for us.
    webhook_api: bool = True
    # Some trackers expire webhooks registered through the API after this many seconds.
    webhook_lifetime: int | None = None

    def endpoints(self, base_url: str | None, account_id: str | None = None) -> Endpoints:
        """The URLs for one installation: its own base URL, or the provider's cloud."""
        if base_url:
            base = base_url.rstrip("/")
            template = self.self_hosted
            values = {"base": base, "account": account_id or ""}
        else:
            template = self.cloud
            values = {"base": "", "account": account_id or "{account}"}
        return Endpoints(
            authorize=template.authorize.format(**values),
            token=template.token.format(**values),
            api=template.api.format(**values),
            resources=template.resources.format(**values) if template.resources else None,
        )


def frozen(values: dict[str, str]) -> MappingProxyType[str, str]:
    """A read-only mapping, for the header and parameter fields of a frozen `Provider`."""
    return MappingProxyType(values)
