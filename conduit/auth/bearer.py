"""Resolving a request's bearer token to the organization and scopes it stands for.

Two kinds of bearer exist: API tokens (conduit.auth.tokens) and the access tokens of installed apps,
which conduit.apps.tokens issues. Both are looked up here, so authenticating a caller never needs
the apps domain.

Every API request carries its token, so what a valid API token resolves to is cached per process
(`TokenCache`, one per runtime) for `TOKEN_CACHE_SECONDS`. Revoking a token in this process
(`forget_token`, called once the revocation is committed) takes effect on the next request; other
processes stop accepting it once their entry expires, within `TOKEN_CACHE_SECONDS`. Unknown or revoked
tokens are never cached, so a new token works at once and guessing costs what it did. The cache is keyed
by the token's hash, as the database is. App access tokens are not cached: they are revoked from the
apps domain (uninstalling, rotating), which this cache would have to hear from.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.auth import credentials, tokens
from conduit.db.base import utcnow
from conduit.db.models import ApiToken, AppInstallation, AppInstallationStatus, AppToken
from conduit.ids import encode
from conduit.runtime import Resource, Runtime

# Writing last_used_at on every request would turn reads into writes; a minute's precision is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# After a refresh, the previous pair of an app keeps working this long, so a lost response can be retried.
REFRESH_GRACE = timedelta(seconds=60)
# How long another process may go on accepting an API token revoked elsewhere.
TOKEN_CACHE_SECONDS = 5.0
# Tokens held at most; the least recently used goes first. One entry is about 400 bytes.
TOKEN_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Viewer:
    organization_id: int
    token_id: int | None  # the ApiToken; None when an app's access token is used
    scopes: tuple[str, ...]
    app_installation_id: int | None = None
    app_id: int | None = None
    # A member signed in to the console (conduit.auth.sessions), and the session they use.
    member_id: int | None = None
    session_id: int | None = None
    # Every scope `scopes` grant, worked out once: a scope is checked on every field of an answer.
    granted: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "granted", tokens.implied(self.scopes))

    def can(self, scope: str) -> bool:
        granted = self.granted
        return scope in granted or tokens.ADMIN in granted

    @property
    def actor(self) -> dict[str, str]:
        """Who is acting, as event payloads name it."""
        if self.app_id is not None:
            return {"type": "app", "id": encode("App", self.app_id)}
        if self.member_id is not None:
            return {"type": "member", "id": encode("Member", self.member_id)}
        return {"type": "api_token", "id": encode("ApiToken", self.token_id or 0)}


@dataclass(frozen=True)
class AppPrincipal:
    """The installation an app's access token acts for."""

    organization_id: int
    installation_id: int
    app_id: int
    token_id: int
    scopes: tuple[str, ...]


async def authenticate_access(session: AsyncSession, value: str) -> AppPrincipal | None:
    if not credentials.looks_like(value, credentials.ACCESS_TOKEN):
        return None
    now = utcnow()
    row = (
        await session.execute(
            select(AppToken).where(
                AppToken.access_hash == credentials.digest(value),
                AppToken.revoked_at.is_(None),
                AppToken.access_expires_at > now,
                # A rotated pair's access token lives on through the grace window, like its refresh.
                or_(AppToken.rotated_at.is_(None), AppToken.rotated_at > now - REFRESH_GRACE),
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    inst = await session.get(AppInstallation, row.installation_id)
    if inst is None or inst.status is not AppInstallationStatus.INSTALLED:
        return None
    return AppPrincipal(row.organization_id, inst.id, inst.app_id, row.id, tuple(row.scopes))


def bearer_value(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(session: AsyncSession, value: str) -> Viewer | None:
    """An API token, or the access token of an installed app (limited to that installation)."""
    if value.startswith(credentials.ACCESS_TOKEN):
        app = await authenticate_access(session, value)
        if app is None:
            return None
        return Viewer(app.organization_id, None, app.scopes, app.installation_id, app.app_id)
    if not _is_api_token(value):
        return None
    found = await _api_token(session, tokens.hash_token(value))
    return found[0] if found else None


def _is_api_token(value: str) -> bool:
    return value.startswith(tokens.TOKEN_PREFIX) and len(value) <= 200


async def _api_token(session: AsyncSession, token_hash: str) -> tuple[Viewer, datetime] | None:
    """The viewer of a valid API token and when it was last used, recording this use (to the minute)."""
    stmt = select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        return None
    now = utcnow()
    last_used = row.last_used_at
    if last_used is None or now - last_used > LAST_USED_RESOLUTION:
        await session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        await session.commit()
        last_used = now
    return Viewer(row.organization_id, row.id, tuple(row.scopes)), last_used


@dataclass(slots=True)
class _Cached:
    read_at: float  # monotonic
    viewer: Viewer
    last_used: datetime  # as recorded in the database


class TokenCache:
    """Valid API tokens (by hash) → their viewer, each for `ttl` seconds after it was read (monotonic
    clock), at most `size` of them."""

    def __init__(
        self,
        ttl: float = TOKEN_CACHE_SECONDS,
        size: int = TOKEN_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[str, _Cached] = OrderedDict()
        # Bumped by every forget: a read that started before one may be stale, so it is not kept.
        self.generation = 0

    def get(self, token_hash: str) -> _Cached | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if self.clock() - entry.read_at >= self.ttl:
            del self._entries[token_hash]
            return None
        self._entries.move_to_end(token_hash)
        return entry

    def put(self, token_hash: str, viewer: Viewer, last_used: datetime, generation: int) -> None:
        """Keep `viewer`, unless something was forgotten since `generation` (when the read began)."""
        if generation != self.generation:
            return
        self._entries[token_hash] = _Cached(self.clock(), viewer, last_used)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, token_id: int) -> None:
        self.generation += 1
        for key in [k for k, e in self._entries.items() if e.viewer.token_id == token_id]:
            del self._entries[key]


TOKEN_CACHE: Resource[TokenCache] = Resource("api token cache", make=lambda _runtime: TokenCache())


async def viewer_of(runtime: Runtime, value: str) -> Viewer | None:
    """`authenticate`, answering API tokens from this runtime's `TokenCache` while the entry lives.

    A hit whose last use was recorded over `LAST_USED_RESOLUTION` ago reads the database again, which
    records this use and renews the entry."""
    if not _is_api_token(value):
        async with runtime.sessions() as session:
            return await authenticate(session, value)
    cache = runtime.get(TOKEN_CACHE)
    token_hash = tokens.hash_token(value)
    entry = cache.get(token_hash)
    if entry is not None and utcnow() - entry.last_used <= LAST_USED_RESOLUTION:
        return entry.viewer
    generation = cache.generation
    async with runtime.sessions() as session:
        found = await _api_token(session, token_hash)
    if found is None:
        return None
    viewer, last_used = found
    cache.put(token_hash, viewer, last_used, generation)
    return viewer


def forget_token(runtime: Runtime, token_id: int) -> None:
    """Call once a token's revocation is committed: this process refuses it from the next request."""
    if (cache := runtime.find(TOKEN_CACHE)) is not None:
        cache.forget(token_id)
