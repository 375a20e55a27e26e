"""The in-house tracker's catalog entry: any service that implements Conduit's tracker contract (v1).

There is no cloud: an installation is always at the contract base URL its app declares (or the
organization gives), reached through the same guarded client as every tracker. The credential is the
shared `whsec_` secret both sides hold; it never travels, it signs each call (Standard Webhooks
headers), so `token_header` is not used. The OAuth endpoints are placeholders nobody calls.
"""

from __future__ import annotations

from conduit.connectors.catalog import Endpoints, Provider, RateLimitHeaders, RefreshPolicy, frozen

# Where the contract's own endpoints sit: at the base URL itself.
NO_CLOUD = Endpoints(authorize="", token="", api="")

INHOUSE = Provider(
    key="inhouse",
    name="In-house tracker",
    # Installed with the shared secret (checked with one signed `describe` call): see catalog.Provider.
    auth_mode="app",
    cloud=NO_CLOUD,
    self_hosted=Endpoints(authorize="{base}/oauth/authorize", token="{base}/oauth/token", api="{base}"),
    scopes=(),
    scope_separator=" ",
    pkce=False,
    # A shared secret does not expire and is never refreshed.
    refresh=RefreshPolicy(rotating=False, default_lifetime=None),
    # The contract signals a limit with 429 and Retry-After (seconds); nothing else is promised.
    rate_limit=RateLimitHeaders(remaining=None, reset=None, fallback=60.0),
    api_headers=frozen({"Accept": "application/json"}),
    token_header="webhook-signature",
    token_prefix="",
)
