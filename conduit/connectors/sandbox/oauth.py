"""The OAuth 2.0 authorization server both sandbox trackers share.

Trackers differ in token shapes and in what happens to a refresh token once it was used; a
`TokenPolicy` says which. Errors are raised with a generic `kind` that each tracker maps to its own
vocabulary (GitHub's `bad_refresh_token`, Jira's `invalid_grant`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from conduit.connectors.sandbox.state import Clock, Sequence

CODE_TTL = 600


class OAuthError(Exception):
    """kind: client | redirect_uri | code | refresh | grant_type | request | scope."""

    def __init__(self, kind: str, description: str) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description


@dataclass(frozen=True)
class TokenPolicy:
    access_prefix: str
    access_ttl: int | None
    refresh_prefix: str | None = None
    refresh_ttl: int | None = None
    # Seconds a rotated refresh token may still be used; None = rejected at once.
    reuse_window: float | None = None
    # Whether using a rotated refresh token after the window revokes every token of that grant.
    revoke_family_on_reuse: bool = False
    # A scope that must have been granted for a refresh token to be issued at all.
    refresh_requires_scope: str | None = None


@dataclass
class Client:
    client_id: str
    client_secret: str
    policy: str
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class Grant:
    id: int
    client_id: str
    user: str
    scope: str
    revoked: bool = False


@dataclass
class Code:
    value: str
    client_id: str
    user: str
    scope: str
    redirect_uri: str
    expires_at: float
    challenge: str | None
    method: str | None
    used: bool = False


@dataclass
class AccessToken:
    value: str
    grant: Grant
    expires_at: float | None


@dataclass
class RefreshToken:
    value: str
    grant: Grant
    expires_at: float | None
    rotated_at: float | None = None
    successor: str | None = None


def pkce_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OAuthServer:
    def __init__(self, clock: Clock, ids: Sequence, policies: dict[str, TokenPolicy], user: str) -> None:
        self.clock = clock
        self.ids = ids
        self.policies = policies
        self.clients: dict[str, Client] = {}
        # Who "clicks Authorize" in the non-interactive consent screen, and whether they refuse.
        self.consent_user = user
        self.deny = False
        self.codes: dict[str, Code] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.stats = {"authorize": 0, "authorization_code": 0, "refresh_token": 0, "failed": 0}
        self._lock = threading.RLock()

    # -- clients -------------------------------------------------------------------------------------
    def add_client(
        self, client_id: str, client_secret: str, policy: str, redirect_uris: list[str] | None = None
    ) -> Client:
        if policy not in self.policies:
            raise OAuthError("request", f"unknown client mode {policy!r}; use one of {sorted(self.policies)}")
        client = Client(client_id, client_secret, policy, list(redirect_uris or []))
        with self._lock:
            self.clients[client_id] = client
        return client

    def _client(self, client_id: str | None, secret: str | None) -> Client:
        client = self.clients.get(client_id or "")
        if client is None or not hmac.compare_digest(client.client_secret, secret or ""):
            raise OAuthError("client", "The client_id and/or client_secret passed are incorrect.")
        return client

    # -- authorize -----------------------------------------------------------------------------------
    def authorize(self, params: dict[str, str]) -> str:
        """Return where the browser goes next: the redirect_uri with `code` (or `error`) and `state`."""
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            raise OAuthError("client", f"unknown client_id {params.get('client_id')!r}")
        redirect_uri = params.get("redirect_uri") or (client.redirect_uris[0] if client.redirect_uris else "")
        if not redirect_uri:
            raise OAuthError("redirect_uri", "redirect_uri is required (the client has none registered)")
        if client.redirect_uris and redirect_uri not in client.redirect_uris:
            raise OAuthError("redirect_uri", "The redirect_uri is not associated with this application.")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method") or ("plain" if challenge else None)
        if method not in (None, "plain", "S256"):
            raise OAuthError("request", "code_challenge_method must be S256 or plain")
        reply: dict[str, str] = {}
        with self._lock:
            self.stats["authorize"] += 1
            if self.deny:
                reply["error"] = "access_denied"
                reply["error_description"] = "The user has denied your application access."
            else:
                code = Code(
                    value=self.ids.token("", 20),
                    client_id=client.client_id,
                    user=self.consent_user,
                    scope=params.get("scope", ""),
                    redirect_uri=redirect_uri,
                    expires_at=self.clock.time() + CODE_TTL,
                    challenge=challenge,
                    method=method,
                )
                self.codes[code.value] = code
                reply["code"] = code.value
        if "state" in params:
            reply["state"] = params["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return redirect_uri + sep + urlencode(reply)

    # -- token ---------------------------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> tuple[Client, dict[str, Any]]:
        grant_type = form.get("grant_type") or ("authorization_code" if "code" in form else "")
        try:
            client = self._client(form.get("client_id"), form.get("client_secret"))
            if grant_type == "authorization_code":
                return client, self._exchange(client, form)
            if grant_type == "refresh_token":
                return client, self._refresh(client, form.get("refresh_token", ""))
            raise OAuthError("grant_type", f"unsupported grant_type {grant_type!r}")
        except OAuthError:
            with self._lock:
                self.stats["failed"] += 1
            raise

    def _exchange(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            code = self.codes.get(form.get("code", ""))
            if code is None or code.used or code.client_id != client.client_id:
                raise OAuthError("code", "The code passed is incorrect or expired.")
            if code.expires_at < self.clock.time():
                raise OAuthError("code", "The code passed is incorrect or expired.")
            if form.get("redirect_uri") and form["redirect_uri"] != code.redirect_uri:
                raise OAuthError("redirect_uri", "The redirect_uri does not match the one used to authorize.")
            if code.challenge is not None:
                verifier = form.get("code_verifier", "")
                expected = pkce_s256(verifier) if code.method == "S256" else verifier
                if not verifier or not hmac.compare_digest(expected, code.challenge):
                    raise OAuthError("code", "The code_verifier does not match the code_challenge.")
            code.used = True
            self.stats["authorization_code"] += 1
            grant = Grant(self.ids.next("grant"), client.client_id, code.user, code.scope)
            return self._issue(client, grant)

    def _refresh(self, client: Client, value: str) -> dict[str, Any]:
        policy = self.policies[client.policy]
        now = self.clock.time()
        with self._lock:
            rt = self.refresh_tokens.get(value)
            if rt is None or rt.grant.revoked or rt.grant.client_id != client.client_id:
                raise OAuthError("refresh", "The refresh token passed is incorrect or expired.")
            if rt.expires_at is not None and rt.expires_at < now:
                raise OAuthError("refresh", "The refresh token passed is incorrect or expired.")
            if rt.rotated_at is not None:
                window = policy.reuse_window
                if window is not None and now - rt.rotated_at <= window:
                    # Inside the reuse window the old token still works and leads to the newest one.
                    latest = rt
                    while latest.successor is not None:
                        latest = self.refresh_tokens[latest.successor]
                    self.stats["refresh_token"] += 1
                    reply = self._issue(client, rt.grant, refresh=False)
                    reply["refresh_token"] = latest.value
                    return reply
                if policy.revoke_family_on_reuse:
                    rt.grant.revoked = True
                raise OAuthError("refresh", "The refresh token was already used.")
            self.stats["refresh_token"] += 1
            reply = self._issue(client, rt.grant)
            rt.rotated_at = now
            rt.successor = reply.get("refresh_token")
            return reply

    def _issue(self, client: Client, grant: Grant, refresh: bool = True) -> dict[str, Any]:
        policy = self.policies[client.policy]
        now = self.clock.time()
        access = AccessToken(
            self.ids.token(policy.access_prefix),
            grant,
            now + policy.access_ttl if policy.access_ttl is not None else None,
        )
        self.access[access.value] = access
        reply: dict[str, Any] = {"access_token": access.value, "token_type": "bearer", "scope": grant.scope}
        if policy.access_ttl is not None:
            reply["expires_in"] = policy.access_ttl
        wants_refresh = policy.refresh_prefix is not None and (
            policy.refresh_requires_scope is None or policy.refresh_requires_scope in grant.scope.split()
        )
        if refresh and wants_refresh:
            assert policy.refresh_prefix is not None
            rt = RefreshToken(
                self.ids.token(policy.refresh_prefix, 64),
                grant,
                now + policy.refresh_ttl if policy.refresh_ttl is not None else None,
            )
            self.refresh_tokens[rt.value] = rt
            reply["refresh_token"] = rt.value
            if policy.refresh_ttl is not None:
                reply["refresh_token_expires_in"] = policy.refresh_ttl
        return reply

    # -- resource side -------------------------------------------------------------------------------
    def authenticate(self, value: str) -> Grant | None:
        with self._lock:
            token = self.access.get(value)
            if token is None or token.grant.revoked:
                return None
            if token.expires_at is not None and token.expires_at <= self.clock.time():
                return None
            return token.grant

    def revoke(self, value: str | None = None) -> int:
        """Revoke the grant behind one token (access or refresh), or every grant when no token is given."""
        with self._lock:
            if value is None:
                grants = {id(t.grant): t.grant for t in self.access.values()}
            else:
                found = self.access.get(value) or self.refresh_tokens.get(value)
                grants = {id(found.grant): found.grant} if found else {}
            for grant in grants.values():
                grant.revoked = True
            return len(grants)

    def expire(self, value: str | None = None) -> int:
        """End access tokens now (as if their lifetime had passed); refresh tokens keep working."""
        now = self.clock.time()
        with self._lock:
            tokens = (
                [self.access[value]] if value in self.access else [] if value else list(self.access.values())
            )
            for token in tokens:
                token.expires_at = now
            return len(tokens)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "stats": dict(self.stats),
                "clients": [
                    {"client_id": c.client_id, "mode": c.policy, "redirect_uris": c.redirect_uris}
                    for c in self.clients.values()
                ],
                "consent": {"user": self.consent_user, "deny": self.deny},
                "grants": len({id(t.grant) for t in self.access.values()}),
                "active_access_tokens": sum(1 for t in self.access.values() if self.authenticate(t.value)),
            }
