"""Finding and checking the DSN key an SDK sent.

SDKs send the public key in one of three places: the ``X-Sentry-Auth`` header (or ``Authorization:
Sentry ...``), the ``sentry_key`` query parameter (browsers, which cannot always set headers), or the
``dsn`` in an envelope's header.

Every event carries its key, so what a key resolves to is cached per process (`KeyCache`, one per
runtime) for `KEY_CACHE_SECONDS`. A change made in this process (`forget_key` when a key is disabled,
`forget_project` when a project's quota changes) takes effect on the next event; other processes see
it once their entry expires, so a disabled key stops working everywhere within `KEY_CACHE_SECONDS`.
Unknown keys are not cached: a new key works at once, and a client guessing keys costs what it did.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.db.models import Project, ProjectKey
from conduit.ingest.errors import BadRequest, Unauthorized, WrongProject
from conduit.runtime import Resource, Runtime

_KEY = re.compile(r"[0-9a-zA-Z_-]{1,32}")
# Bounded by length first so int() never meets a 10k-digit string; the value is checked against the
# largest id a BIGINT column holds.
_PROJECT_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_PROJECT_ID = 2**63 - 1
MISSING = (
    "missing authorization: send an X-Sentry-Auth header with sentry_key, "
    "a sentry_key query parameter, or a dsn in the envelope header"
)


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """Who a valid key belongs to: the project events go to and its organization."""

    organization_id: int
    project_id: int
    # The key itself: what its quota is counted by.
    public_key: str
    # The project's events per minute per key; None defers to the operator's default.
    rate_limit: int | None = None


def parse_auth_header(value: str) -> dict[str, str]:
    """``Sentry sentry_key=abc, sentry_version=7`` → ``{"sentry_key": "abc", "sentry_version": "7"}``."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "sentry":
        raise Unauthorized("authorization header must use the Sentry scheme: 'Sentry sentry_key=<key>, ...'")
    out: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, val = part.strip().partition("=")
        if not eq:
            continue
        out[name.strip().lower()] = val.strip().strip('"')
    return out


def key_from_dsn(dsn: object) -> str | None:
    if not isinstance(dsn, str) or not dsn:
        return None
    try:
        return urlsplit(dsn).username or None
    except ValueError:
        return None


def key_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key from headers or query, or None when neither carries one (the envelope may)."""
    header = headers.get("x-sentry-auth")
    if header is None:
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("sentry "):
            header = authorization
    if header is not None:
        key = parse_auth_header(header).get("sentry_key")
        if not key:
            raise Unauthorized("X-Sentry-Auth header has no sentry_key")
        return key
    return query.get("sentry_key") or None


def parse_project_id(raw: str) -> int:
    """The project id of an ingest path: canonical ASCII decimal, 1 to 2^63-1, or a `BadRequest`.

    One spelling per project: `str.isdigit()` and `int()` also accept superscripts, other scripts'
    digits, leading zeros, signs and surrounding space, which would either crash or alias project 1.
    """
    if not _PROJECT_ID.fullmatch(raw) or int(raw) > MAX_PROJECT_ID:
        raise BadRequest(
            f"invalid project id {raw[:40]!r}: expected a decimal number from 1 to {MAX_PROJECT_ID}, "
            "in ASCII digits without leading zeros"
        )
    return int(raw)


def _check_form(public_key: str | None) -> str:
    if not public_key:
        raise Unauthorized(MISSING)
    if not _KEY.fullmatch(public_key):
        raise Unauthorized("malformed sentry_key")
    return public_key


def _check_project(owner: KeyOwner, project_id: int) -> KeyOwner:
    if owner.project_id != project_id:
        raise WrongProject(f"this DSN key does not belong to project {project_id}")
    return owner


async def _lookup(session: AsyncSession, public_key: str) -> KeyOwner:
    stmt = (
        select(ProjectKey.organization_id, ProjectKey.project_id, Project.ingest_rate_limit)
        .join(Project, Project.id == ProjectKey.project_id)
        .where(ProjectKey.public_key == public_key, ProjectKey.is_active.is_(True))
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise Unauthorized("unknown or disabled DSN key")
    return KeyOwner(
        organization_id=row.organization_id,
        project_id=row.project_id,
        public_key=public_key,
        rate_limit=row.ingest_rate_limit,
    )


async def authenticate(session: AsyncSession, project_id: int, public_key: str | None) -> KeyOwner:
    """Check the key against the project in the URL, reading the database.

    Whether the project exists plays no part in the answer, so a caller learns nothing about it.
    """
    return _check_project(await _lookup(session, _check_form(public_key)), project_id)


# How long another process may go on accepting a key disabled (or a quota changed) elsewhere.
KEY_CACHE_SECONDS = 5.0
# Keys held at most; the least recently used goes first. One entry is about 200 bytes.
KEY_CACHE_SIZE = 10_000


class KeyCache:
    """Valid keys → their owner, each for `ttl` seconds after it was read (monotonic clock), at most
    `size` of them."""

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, size: int = KEY_CACHE_SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, KeyOwner]] = OrderedDict()
        # Bumped by every forget: a read that started before one may be stale, so it is not kept.
        self.generation = 0

    def get(self, public_key: str) -> KeyOwner | None:
        entry = self._entries.get(public_key)
        if entry is None:
            return None
        read_at, owner = entry
        if time.monotonic() - read_at >= self.ttl:
            del self._entries[public_key]
            return None
        self._entries.move_to_end(public_key)
        return owner

    def put(self, owner: KeyOwner, generation: int | None = None) -> None:
        """Keep `owner`, unless something was forgotten since `generation` (when the read began)."""
        if generation is not None and generation != self.generation:
            return
        self._entries[owner.public_key] = (time.monotonic(), owner)
        self._entries.move_to_end(owner.public_key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget_key(self, public_key: str) -> None:
        self.generation += 1
        self._entries.pop(public_key, None)

    def forget_project(self, project_id: int) -> None:
        self.generation += 1
        for key in [k for k, (_, owner) in self._entries.items() if owner.project_id == project_id]:
            del self._entries[key]


KEY_CACHE: Resource[KeyCache] = Resource("ingest key cache", make=lambda _runtime: KeyCache())


async def owner_of(runtime: Runtime, project_id: int, public_key: str | None) -> KeyOwner:
    """`authenticate`, answered from this runtime's `KeyCache` while the entry lives."""
    key = _check_form(public_key)
    cache = runtime.get(KEY_CACHE)
    owner = cache.get(key)
    if owner is None:
        generation = cache.generation
        # A short session of its own: no connection is held while a slow client uploads its body.
        async with runtime.sessions() as session:
            owner = await _lookup(session, key)
        cache.put(owner, generation)
    return _check_project(owner, project_id)


def forget_key(runtime: Runtime, public_key: str) -> None:
    """Call once a change to the key (disabled, deleted) is committed: this process stops using it now."""
    if (cache := runtime.find(KEY_CACHE)) is not None:
        cache.forget_key(public_key)


def forget_project(runtime: Runtime, project_id: int) -> None:
    """Call once a change to the project (its quota, its keys) is committed: the next event reads it."""
    if (cache := runtime.find(KEY_CACHE)) is not None:
        cache.forget_project(project_id)
