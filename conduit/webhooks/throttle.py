"""Per-endpoint throttle shared by every worker: a rate limit, a cap on requests in flight, a pause.

A worker asks `acquire(endpoint_id, limits)` before sending. It gets a `Permit` (send now, then
`release` it) or a `Wait` (defer this delivery by that many seconds and take other work). Nothing here
sleeps, so one slow or throttled endpoint never holds a worker that another endpoint's deliveries need.

The rate limit is a sliding-window log: no window of `period` seconds ever holds more than `rate`
grants, measured on one clock (Redis' own in the distributed runtime). In-flight slots are leases that
expire, so a worker that dies mid-request gives its slot back after `lease` seconds.

`RedisThrottle` keeps the state in Redis and decides in one Lua script, atomic across workers;
`LocalThrottle` is the same algorithm in process memory for the embedded runtime.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Limits:
    rate: int = 10  # grants per period
    period: float = 1.0  # seconds
    max_in_flight: int = 10
    lease: float = 60.0  # seconds a slot stays taken if never released; above the request timeout
    busy_retry: float = 0.5  # how long to wait when every slot is taken: we cannot know when one frees

    def __post_init__(self) -> None:
        if self.rate < 1:
            raise ValueError(f"rate must be at least 1 per period, not {self.rate}")
        if not self.period > 0:
            raise ValueError(f"period must be positive, not {self.period}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {self.max_in_flight}")
        if not self.lease > 0 or not self.busy_retry > 0:
            raise ValueError("lease and busy_retry must be positive")


@dataclass(frozen=True, slots=True)
class Permit:
    endpoint_id: str
    token: str
    granted_at: float  # seconds, on the throttle's clock
    expires_at: float


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float
    reason: str  # "rate", "in_flight" or "paused": for logs and the delivery log


DEFAULT_LIMITS = Limits()


class Throttle(Protocol):
    async def acquire(self, endpoint_id: str, limits: Limits = DEFAULT_LIMITS) -> Permit | Wait: ...

    async def release(self, permit: Permit) -> None: ...

    async def pause(self, endpoint_id: str, seconds: float) -> None:
        """Refuse every permit for this endpoint for a while: it asked us to slow down."""
        ...

    async def close(self) -> None: ...


def _check_id(endpoint_id: str) -> None:
    if not endpoint_id or not isinstance(endpoint_id, str):
        raise ValueError(f"endpoint id must be a non-empty string, not {endpoint_id!r}")


_US = 1_000_000

# KEYS: rate log, in-flight leases, pause marker.
# ARGV: token, rate, period_us, max_in_flight, lease_us, busy_retry_us.
# Returns {granted (0/1), granted: expiry_us / refused: wait_us, now_us, reason}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, period = tonumber(ARGV[2]), tonumber(ARGV[3])
local cap, lease, busy = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

local paused = redis.call('PTTL', KEYS[3])
if paused > 0 then
  return {0, paused * 1000, now, 'paused'}
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= cap then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {0, math.min(tonumber(first[2]) - now, busy), now, 'in_flight'}
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) >= rate then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + period - now, now, 'rate'}
end

redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(period / 1000) + 1)
redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
-- Leases are granted in time order, so the newest one decides how long the set must live.
redis.call('PEXPIRE', KEYS[2], math.ceil(lease / 1000) + 1)
return {1, now + lease, now, 'granted'}
"""


class RedisThrottle:
    def __init__(self, redis: Redis, prefix: str = "conduit:webhooks:throttle") -> None:
        self.redis = redis
        self.prefix = prefix
        self._acquire = redis.register_script(_ACQUIRE)

    async def close(self) -> None:
        await self.redis.aclose()

    def _keys(self, endpoint_id: str) -> list[str]:
        # The hash tag keeps one endpoint's keys in one slot, as a Redis Cluster script requires.
        base = f"{self.prefix}:{{{endpoint_id}}}"
        return [f"{base}:rate", f"{base}:flight", f"{base}:pause"]

    async def acquire(self, endpoint_id: str, limits: Limits = DEFAULT_LIMITS) -> Permit | Wait:
        _check_id(endpoint_id)
        token = uuid.uuid4().hex
        args: list[str | int] = [
            token,
            limits.rate,
            round(limits.period * _US),
            limits.max_in_flight,
            round(limits.lease * _US),
            round(limits.busy_retry * _US),
        ]
        granted, value, now, reason = await self._acquire(keys=self._keys(endpoint_id), args=args)
        if granted:
            return Permit(endpoint_id, token, int(now) / _US, int(value) / _US)
        reason = reason.decode() if isinstance(reason, bytes) else str(reason)
        return Wait(max(int(value), 1) / _US, reason)

    async def release(self, permit: Permit) -> None:
        await self.redis.zrem(self._keys(permit.endpoint_id)[1], permit.token)

    async def pause(self, endpoint_id: str, seconds: float) -> None:
        _check_id(endpoint_id)
        ms = math.ceil(seconds * 1000)
        if ms <= 0:
            return
        key = self._keys(endpoint_id)[2]
        # Keep the longer of an existing pause and this one.
        current = await self.redis.pttl(key)
        if current < ms:
            await self.redis.set(key, b"1", px=ms)


@dataclass
class _EndpointState:
    grants: deque[float] = field(default_factory=deque)
    leases: dict[str, float] = field(default_factory=dict)
    paused_until: float = 0.0


class LocalThrottle:
    """The same decisions as RedisThrottle for one process; every method runs without awaiting, so
    each decision is atomic on the event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._endpoints: dict[str, _EndpointState] = {}

    async def close(self) -> None:
        return None

    async def acquire(self, endpoint_id: str, limits: Limits = DEFAULT_LIMITS) -> Permit | Wait:
        _check_id(endpoint_id)
        now = self._clock()
        state = self._endpoints.setdefault(endpoint_id, _EndpointState())
        if state.paused_until > now:
            return Wait(state.paused_until - now, "paused")
        for token, expiry in list(state.leases.items()):
            if expiry <= now:
                del state.leases[token]
        if len(state.leases) >= limits.max_in_flight:
            return Wait(min(min(state.leases.values()) - now, limits.busy_retry), "in_flight")
        while state.grants and state.grants[0] <= now - limits.period:
            state.grants.popleft()
        if len(state.grants) >= limits.rate:
            return Wait(max(state.grants[0] + limits.period - now, 1e-6), "rate")
        token = uuid.uuid4().hex
        state.grants.append(now)
        state.leases[token] = now + limits.lease
        return Permit(endpoint_id, token, now, now + limits.lease)

    async def release(self, permit: Permit) -> None:
        state = self._endpoints.get(permit.endpoint_id)
        if state is not None:
            state.leases.pop(permit.token, None)

    async def pause(self, endpoint_id: str, seconds: float) -> None:
        _check_id(endpoint_id)
        state = self._endpoints.setdefault(endpoint_id, _EndpointState())
        state.paused_until = max(state.paused_until, self._clock() + seconds)
