"""Jira's catalog entry: its OAuth and REST endpoints on the cloud and on a self-hosted server."""

from __future__ import annotations

from conduit.connectors.catalog import Endpoints, Provider, RateLimitHeaders, RefreshPolicy, frozen

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
    authorize_params=frozen({"audience": "api.atlassian.com", "prompt": "consent"}),
    api_headers=frozen({"Accept": "application/json"}),
    webhook_lifetime=30 * 24 * 3600,
)
