"""Providers as data: where each tracker's OAuth and REST endpoints are, and how its tokens behave.

URL templates take `{base}` (an installation's base URL, for self-hosted trackers and the sandbox) and,
for the cloud, `{account}` (Jira's cloud id). Code lives in the connector only where behaviour differs.
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
    # Where the sites a token can reach are listed (Jira Cloud); None when the base URL is the site.
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
    auth_mode: Literal["oauth2"]
    cloud: Endpoints
    self_hosted: Endpoints
    scopes: tuple[str, ...]
    scope_separator: str
    pkce: bool
    refresh: RefreshPolicy
    rate_limit: RateLimitHeaders
    # Added to the authorize URL as is (Atlassian's audience and consent prompt).
    authorize_params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Headers every REST call carries.
    api_headers: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Whether the API can register the tracker's webhook for us.
    webhook_api: bool = True
    # Some trackers expire webhooks registered through the API (Jira: 30 days).
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


def _frozen(values: dict[str, str]) -> MappingProxyType[str, str]:
    return MappingProxyType(values)


GITHUB = Provider(
    key="github",
    name="GitHub",
    auth_mode="oauth2",
    cloud=Endpoints(
        authorize="https://github.com/login/oauth/authorize",
        token="https://github.com/login/oauth/access_token",
        api="https://api.github.com",
    ),
    # GitHub Enterprise Server layout.
    self_hosted=Endpoints(
        authorize="{base}/login/oauth/authorize",
        token="{base}/login/oauth/access_token",
        api="{base}/api/v3",
    ),
    scopes=("repo", "admin:repo_hook", "read:user", "user:email"),
    scope_separator=" ",
    pkce=True,
    # GitHub App user tokens rotate both tokens on refresh; OAuth App tokens never expire.
    refresh=RefreshPolicy(rotating=True, default_lifetime=28800),
    rate_limit=RateLimitHeaders(remaining="x-ratelimit-remaining", reset="x-ratelimit-reset"),
    api_headers=_frozen({"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}),
)

JIRA = Provider(
    key="jira",
    name="Jira",
    auth_mode="oauth2",
    cloud=Endpoints(
        authorize="https://auth.atlassian.com/authorize",
        token="https://auth.atlassian.com/oauth/token",
        api="https://api.atlassian.com/ex/jira/{account}/rest/api/3",
        resources="https://api.atlassian.com/oauth/token/accessible-resources",
    ),
    # Data Center layout: the base URL names the site.
    self_hosted=Endpoints(
        authorize="{base}/rest/oauth2/latest/authorize",
        token="{base}/rest/oauth2/latest/token",
        api="{base}/rest/api/3",
    ),
    scopes=("read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook", "offline_access"),
    scope_separator=" ",
    # Atlassian Cloud documents no PKCE.
    pkce=False,
    refresh=RefreshPolicy(rotating=True, default_lifetime=3600),
    rate_limit=RateLimitHeaders(remaining="x-ratelimit-remaining", reset="x-ratelimit-reset"),
    authorize_params=_frozen({"audience": "api.atlassian.com", "prompt": "consent"}),
    api_headers=_frozen({"Accept": "application/json"}),
    webhook_lifetime=30 * 24 * 3600,
)

PROVIDERS: MappingProxyType[str, Provider] = MappingProxyType({p.key: p for p in (GITHUB, JIRA)})


def provider(key: str) -> Provider:
    try:
        return PROVIDERS[key]
    except KeyError:
        raise ValueError(f"unknown provider {key!r}; known: {', '.join(sorted(PROVIDERS))}") from None
