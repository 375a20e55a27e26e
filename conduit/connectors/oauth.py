"""OAuth 2.0 for tracker installations: the authorize URL (state, PKCE S256) and the token endpoint.

Built on authlib's RFC 6749 / 7636 primitives; the token requests themselves go through the one road
out (`TrackerHttp`), so a code exchange or a refresh is timed and recorded like any other call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from conduit.connectors.catalog import Endpoints, Provider
from conduit.connectors.errors import InvalidRequest, TrackerError, Unauthorized
from conduit.connectors.http import Reply, Target, TrackerHttp, default_check, error_message
from conduit.connectors.records import TokenSet

# Token endpoint errors meaning the grant (code or refresh token) is not valid any more.
GRANT_ERRORS = frozenset(
    {"invalid_grant", "bad_refresh_token", "bad_verification_code", "invalid_token", "unauthorized_client"}
)


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    # Kept out of reprs, so a logged connector or traceback never shows it.
    client_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    url: str
    state: str
    # Keep it server-side with the state; it proves the code exchange comes from whoever started.
    code_verifier: str | None


class GrantRefused(Unauthorized):
    """The token endpoint refused the code or refresh token (`invalid_grant` and its cousins)."""

    def __init__(self, message: str, error: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.error = error


def authorization_request(
    provider: Provider,
    endpoints: Endpoints,
    client_id: str,
    redirect_uri: str,
    state: str | None = None,
) -> AuthorizationRequest:
    state = state or generate_token(32)
    extra: dict[str, str] = dict(provider.authorize_params)
    verifier: str | None = None
    if provider.pkce:
        verifier = generate_token(64)
        extra["code_challenge"] = create_s256_code_challenge(verifier)
        extra["code_challenge_method"] = "S256"
    url = prepare_grant_uri(
        endpoints.authorize,
        client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=provider.scope_separator.join(provider.scopes),
        state=state,
        **extra,
    )
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


def _check_token_reply(provider: Provider) -> Any:
    fallback = default_check(provider.rate_limit)

    def check(reply: Reply) -> TrackerError | None:
        data = reply.data if isinstance(reply.data, dict) else {}
        error = data.get("error")
        # GitHub answers token errors with a 200; Atlassian with a 400 or 403.
        if isinstance(error, str):
            if error in GRANT_ERRORS:
                return GrantRefused(error_message(reply), error, status=reply.status)
            if reply.status < 500:
                return InvalidRequest(error_message(reply), status=reply.status)
        problem = fallback(reply)
        if problem is not None:
            return problem
        if not isinstance(data.get("access_token"), str) or not data["access_token"]:
            return InvalidRequest("token endpoint answered without an access_token", status=reply.status)
        return None

    return check


def _token_set(data: dict[str, Any]) -> TokenSet:
    expires_in = data.get("expires_in")
    try:
        lifetime = int(expires_in) if expires_in not in (None, "") else None
    except (TypeError, ValueError):
        lifetime = None
    refresh = data.get("refresh_token")
    return TokenSet(
        access_token=str(data["access_token"]),
        refresh_token=str(refresh) if refresh else None,
        expires_in=lifetime,
        scope=str(data["scope"]) if data.get("scope") is not None else None,
    )


class OAuthClient:
    def __init__(self, http: TrackerHttp) -> None:
        self.http = http

    async def _token(
        self, target: Target, provider: Provider, endpoints: Endpoints, operation: str, body: str
    ) -> TokenSet:
        reply = await self.http.request(
            target,
            operation,
            "POST",
            endpoints.token,
            # The token URL's path is not secret and names the endpoint well enough in the log.
            template=httpx.URL(endpoints.token).path,
            limits=provider.rate_limit,
            headers={"Accept": "application/json"},
            form=dict(parse_qsl(body)),
            check=_check_token_reply(provider),
        )
        return _token_set(reply.data)

    async def exchange_code(
        self,
        target: Target,
        provider: Provider,
        endpoints: Endpoints,
        client: ClientCredentials,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
    ) -> TokenSet:
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            client_id=client.client_id,
            client_secret=client.client_secret,
            **extra,
        )
        return await self._token(target, provider, endpoints, "oauth.exchange_code", body)

    async def refresh(
        self,
        target: Target,
        provider: Provider,
        endpoints: Endpoints,
        client: ClientCredentials,
        refresh_token: str,
    ) -> TokenSet:
        body = prepare_token_request(
            "refresh_token",
            refresh_token=refresh_token,
            client_id=client.client_id,
            client_secret=client.client_secret,
        )
        return await self._token(target, provider, endpoints, "oauth.refresh", body)
