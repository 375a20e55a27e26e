"""GitLab's catalog entry: its OAuth and REST endpoints on gitlab.com and on a self-managed server."""

from __future__ import annotations

from conduit.connectors.catalog import Endpoints, Provider, RateLimitHeaders, RefreshPolicy, frozen

GITLAB = Provider(
    key="gitlab",
    name="GitLab",
    auth_mode="oauth2",
    cloud=Endpoints(
        authorize="https://gitlab.com/oauth/authorize",
        token="https://gitlab.com/oauth/token",
        api="https://gitlab.com/api/v4",
    ),
    # A self-managed server has the same layout under its own base URL (and its own OAuth client).
    self_hosted=Endpoints(
        authorize="{base}/oauth/authorize",
        token="{base}/oauth/token",
        api="{base}/api/v4",
    ),
    # `api` is the only scope that may write issues, notes and project hooks.
    scopes=("api",),
    scope_separator=" ",
    pkce=True,
    # Access tokens live 2 h; a refresh ends both the old access and the old refresh token. Some
    # versions leave `expires_in` out of the reply, so the 2 h default stands in for it.
    refresh=RefreshPolicy(rotating=True, default_lifetime=7200),
    # `RateLimit-Reset` is epoch seconds; a 429 also carries `Retry-After`.
    rate_limit=RateLimitHeaders(remaining="ratelimit-remaining", reset="ratelimit-reset"),
    api_headers=frozen({"Accept": "application/json"}),
)
