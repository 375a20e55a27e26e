"""GitHub's catalog entry: its OAuth and REST endpoints on the cloud and on a self-hosted server."""

from __future__ import annotations

from conduit.connectors.catalog import Endpoints, Provider, RateLimitHeaders, RefreshPolicy, frozen

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
    api_headers=frozen({"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}),
)
