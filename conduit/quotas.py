"""Rate limits per DSN key and per API token: whether one more event or request fits, and if not, for how long
the caller must wait.

Each subject (a DSN key, a token) has a quota of `per_minute` units. The algorithm is GCRA, the generic
cell rate algorithm: a subject's whole state is one timestamp, its theoretical arrival time (TAT). Each
admitted unit pushes the TAT forward by the emission interval (60 s / per_minute); a unit is admitted while
the TAT stays within one period of now. A fresh subject may so spend its whole minute at once and then
one unit every interval: a token bucket of `per_minute` tokens refilled continuously, with no window edge
at which twice the quota slips through. A refusal changes nothing, so a flood keeps no one out for longer
than its own quota says.

`MemoryStore` keeps the timestamps in this process (the embedded runtime, one process); `RedisStore`
decides in one Lua script, atomic across every process that shares the Redis, on Redis' own clock unless
one is given. A store that fails (Redis down) admits: a quota protects the service, and losing the
events of every SDK while Redis is away would be worse than a flood.

Why not the `limits` package: it offers window counters, not GCRA; it reads the clock itself, so tests
could only wait for windows to pass; and a refusal's wait takes a second, separate call. GCRA here is
one timestamp per subject and a ten-line script on the Redis client the project already has.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from conduit.runtime import Resource, Runtime
from conduit.settings import MAX_RATE_LIMIT, Settings

log = logging.getLogger("conduit.quotas")

PERIOD = 60.0  # seconds: every quota is a number per minute
_US = 1_000_000
# Memory stores prune subjects whose TAT has passed once they hold this many: a subject whose TAT has
# passed is the same as a fresh one, so forgetting it changes no decision.
_PRUNE_AT = 10_000
# A store failing is logged at most this often (seconds): under load it would fail once per request.
_FAILURE_LOG_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # Seconds until one more unit would be admitted; 0 when allowed.
    retry_after: float = 0.0
    limit: int = 0

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds, rounded up: waiting that long is always enough (HTTP's `Retry-After`)."""
        return max(1, math.ceil(self.retry_after)) if not self.allowed else 0


ALLOWED = Decision(True)


def check_limit(value: int) -> int:
    """A per-minute quota as a caller may set it: an integer from 1 to MAX_RATE_LIMIT."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a rate limit is a whole number of events per minute, not {value!r}")
    if not 1 <= value <= MAX_RATE_LIMIT:
        raise ValueError(f"a rate limit must be from 1 to {MAX_RATE_LIMIT} per minute, not {value}")
    return value


def _interval_us(per_minute: int) -> int:
    return max(1, round(PERIOD * _US / per_minute))


class Store(Protocol):
    async def admit(self, key: str, per_minute: int) -> Decision: ...

    async def close(self) -> None: ...


class MemoryStore:
    """GCRA in this process's memory. `admit` never awaits, so each decision is atomic on the loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, int] = {}
        self._prune_at = _PRUNE_AT

    async def admit(self, key: str, per_minute: int) -> Decision:
        now = round(self._clock() * _US)
        if len(self._tat) >= self._prune_at:
            self._tat = {k: tat for k, tat in self._tat.items() if tat > now}
            # Many subjects still counting: prune again only once they have doubled, so the cost of
            # pruning stays a constant share of the calls.
            self._prune_at = max(_PRUNE_AT, 2 * len(self._tat))
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + _interval_us(per_minute)
        allow_at = new_tat - round(PERIOD * _US)
        if now < allow_at:
            return Decision(False, (allow_at - now) / _US, per_minute)
        self._tat[key] = new_tat
        return Decision(True, 0.0, per_minute)

    async def close(self) -> None:
        self._tat.clear()


# KEYS: the subject's TAT. ARGV: emission interval (µs), period (µs), now (µs, or '' for Redis' clock).
# Returns {admitted (0/1), µs until the next unit would be admitted}. Numbers are formatted with %.0f:
# Lua's default formatting would turn a 16-digit TAT into 1.7e+15 and lose its microseconds.
_ADMIT = """
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, string.format('%.0f', allow_at - now)}
end
local ttl = math.max(1, math.ceil((new_tat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
return {1, '0'}
"""


class RedisStore:
    """GCRA in Redis, shared by every process using it. `clock` (seconds) replaces Redis' clock; all
    processes sharing a key must then agree on it."""

    def __init__(
        self, redis: Redis, *, prefix: str = "conduit:quota", clock: Callable[[], float] | None = None
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self._clock = clock
        self._admit = redis.register_script(_ADMIT)

    async def admit(self, key: str, per_minute: int) -> Decision:
        now = "" if self._clock is None else str(round(self._clock() * _US))
        args: list[int | str] = [_interval_us(per_minute), round(PERIOD * _US), now]
        admitted, wait = await self._admit(keys=[f"{self.prefix}:{key}"], args=args)
        if int(admitted):
            return Decision(True, 0.0, per_minute)
        return Decision(False, int(wait) / _US, per_minute)

    async def close(self) -> None:
        await self.redis.aclose()


class Quotas:
    """The quotas of one runtime: the operator's defaults, and the store that counts."""

    def __init__(self, store: Store, *, ingest_default: int = 0, api_default: int = 0) -> None:
        self.store = store
        self.ingest_default = ingest_default
        self.api_default = api_default
        self._last_failure_log = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None = None) -> Quotas:
        if store is None:
            store = MemoryStore()
            if settings.redis_url:
                # A Redis that hangs must not hold ingest: past the timeout the request is admitted.
                redis = Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
                store = RedisStore(redis)
        return cls(store, ingest_default=settings.ingest_rate_limit, api_default=settings.api_rate_limit)

    async def ingest(self, public_key: str, project_limit: int | None) -> Decision:
        """One more event from this DSN key, under its project's limit or else the default."""
        return await self._admit(f"ingest:{public_key}", project_limit or self.ingest_default)

    async def api(self, subject: str) -> Decision:
        """One more request from this API caller (`token:<id>`, ...), under the default."""
        return await self._admit(f"api:{subject}", self.api_default)

    async def _admit(self, key: str, per_minute: int) -> Decision:
        if per_minute <= 0:
            return ALLOWED
        try:
            # A changed limit starts a fresh count: a TAT measures debt at the old rate, which the new
            # one would otherwise inherit (a key limited to 1 a minute would wait its minute at 1000).
            return await self.store.admit(f"{key}:{per_minute}", per_minute)
        except (RedisError, OSError):
            now = time.monotonic()
            if now - self._last_failure_log >= _FAILURE_LOG_INTERVAL:
                self._last_failure_log = now
                log.warning("the quota store is unavailable; admitting without a limit", exc_info=True)
            return ALLOWED

    async def close(self) -> None:
        await self.store.close()


async def _close(quotas: Quotas) -> None:
    await quotas.close()


QUOTAS: Resource[Quotas] = Resource(
    "quotas", make=lambda runtime: Quotas.from_settings(runtime.settings), close=_close
)


def quotas_of(runtime: Runtime) -> Quotas:
    return runtime.get(QUOTAS)
