"""Shortcut's catalog entry: REST v3 reached with an API token a person pastes, in the Shortcut-Token header.

Most teams connect Shortcut with a token generated in Settings → API Tokens, so an installation is made
from a pasted token. The OAuth endpoints are those of Shortcut's flow for newer apps; Conduit does not
use them. Shortcut has no self-hosted server: a base URL is only an operator-allowed stand-in for the
cloud (a sandbox, a proxy) serving the same paths.
"""

from __future__ import annotations

from conduit.connectors.catalog import Endpoints, Provider, RateLimitHeaders, RefreshPolicy, frozen

SHORTCUT = Provider(
    key="shortcut",
    name="Shortcut",
    auth_mode="api_token",
    cloud=Endpoints(
        authorize="https://api.app.shortcut.com/oauth-authorization-code-flow/code",
        token="https://api.app.shortcut.com/oauth-authorization-code-flow/token",
        api="https://api.app.shortcut.com/api/v3",
    ),
    self_hosted=Endpoints(
        authorize="{base}/oauth-authorization-code-flow/code",
        token="{base}/oauth-authorization-code-flow/token",
        api="{base}/api/v3",
    ),
    scopes=(),
    scope_separator=" ",
    pkce=False,
    # API tokens never expire and are never refreshed; the policy only matters for OAuth grants.
    refresh=RefreshPolicy(rotating=True, default_lifetime=None),
    # Shortcut documents 200 requests a minute per token and a 429 past it, with no remaining/reset
    # headers: only Retry-After says when to come back, else a whole window.
    rate_limit=RateLimitHeaders(remaining=None, reset=None, fallback=60.0),
    api_headers=frozen({"Accept": "application/json"}),
    token_header="Shortcut-Token",
    token_prefix="",
)
