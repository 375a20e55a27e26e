"""Linear's catalog entry: its OAuth endpoints and its one GraphQL endpoint.

Linear has no self-hosted edition; a base URL is an operator-allowed stand-in for the cloud (a
sandbox, a proxy), laid out as the cloud is: `{base}/oauth/...` and `{base}/graphql`.
"""

from __future__ import annotations

from conduit.connectors.catalog import Endpoints, Provider, RateLimitHeaders, RefreshPolicy, frozen

LINEAR = Provider(
    key="linear",
    name="Linear",
    auth_mode="oauth2",
    cloud=Endpoints(
        authorize="https://linear.app/oauth/authorize",
        token="https://api.linear.app/oauth/token",
        # The API root; every call is a POST to `/graphql` under it.
        api="https://api.linear.app",
    ),
    self_hosted=Endpoints(
        authorize="{base}/oauth/authorize",
        token="{base}/oauth/token",
        api="{base}",
    ),
    # `admin` because registering a webhook through the API takes it; `write` moves states and
    # assignees, which the narrower `issues:create` and `comments:create` do not allow.
    scopes=("read", "write", "issues:create", "comments:create", "admin"),
    scope_separator=",",
    pkce=True,
    # Access tokens live about a day; refresh tokens rotate, and a used one is refused.
    refresh=RefreshPolicy(rotating=True, default_lifetime=86400),
    # Linear's reset header is epoch milliseconds, which the shared reader would take for seconds:
    # the connector reads it itself (see `graphql.py`), so only Retry-After is left to the default.
    rate_limit=RateLimitHeaders(remaining="x-ratelimit-requests-remaining", reset=None),
    # The app, not the installing person, is the author of what Conduit creates.
    authorize_params=frozen({"actor": "app", "prompt": "consent"}),
    api_headers=frozen({"Content-Type": "application/json", "Accept": "application/json"}),
)
