from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from conduit.webhooks.throttle import Limits, LocalThrottle, Permit, RedisThrottle, Throttle, Wait

REDIS_URL = os.environ.get("CONDUIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"

MakeWorker = Callable[[], Throttle]


@pytest.fixture(params=["redis", "local"])
async def make_worker(request: pytest.FixtureRequest) -> AsyncIterator[MakeWorker]:
    """Returns a factory of worker views of one throttle: with Redis, each worker has its own connection
    and only Redis is shared, as between processes."""
    if request.param == "local":
        shared = LocalThrottle()
        yield lambda: shared
        return
    admin: Redis = Redis.from_url(REDIS_URL)
    try:
        await admin.ping()
    except OSError:
        await admin.aclose()
        if IN_CI:
            pytest.fail(f"Redis is required in CI and is not reachable at {REDIS_URL}")
        pytest.skip("Redis not reachable")
    prefix = f"conduit:test:throttle:{secrets.token_hex(6)}"
    clients: list[Redis] = []

    def worker() -> Throttle:
        client: Redis = Redis.from_url(REDIS_URL)
        clients.append(client)
        return RedisThrottle(client, prefix=prefix)

    try:
        yield worker
    finally:
        keys = [k async for k in admin.scan_iter(match=f"{prefix}:*")]
        if keys:
            await admin.delete(*keys)
        for c in clients:
            await c.aclose()
        await admin.aclose()


def endpoint() -> str:
    return f"ep_{secrets.token_hex(4)}"


async def acquire_until_permit(throttle: Throttle, ep: str, limits: Limits, deadline: float = 10) -> Permit:
    """A worker's loop, compressed: on Wait it defers by the time it was told, then asks again."""
    end = time.monotonic() + deadline
    while True:
        result = await throttle.acquire(ep, limits)
        if isinstance(result, Permit):
            return result
        if time.monotonic() > end:
            pytest.fail(f"no permit for {ep} within {deadline}s; last answer {result}")
        await asyncio.sleep(result.seconds)


async def test_rate_is_never_exceeded_across_workers(make_worker: MakeWorker) -> None:
    n, total = 10, 25
    limits = Limits(rate=n, period=1.0, max_in_flight=100)
    ep = endpoint()
    grants: list[float] = []

    async def worker(throttle: Throttle) -> None:
        while len(grants) < total:
            permit = await acquire_until_permit(throttle, ep, limits)
            grants.append(permit.granted_at)
            await throttle.release(permit)

    await asyncio.gather(*(worker(make_worker()) for _ in range(4)))
    grants.sort()
    # No window of one period holds more than n grants: the (i)th and (i-n)th are a period apart.
    gaps = [grants[i] - grants[i - n] for i in range(n, len(grants))]
    assert min(gaps) >= limits.period - 1e-6, gaps
    # And the limit was actually reached, so the check above meant something.
    assert grants[n - 1] - grants[0] < limits.period


async def test_in_flight_cap_is_respected(make_worker: MakeWorker) -> None:
    limits = Limits(rate=10_000, max_in_flight=3, busy_retry=0.01)
    ep = endpoint()
    current = peak = sent = 0

    async def worker(throttle: Throttle) -> None:
        nonlocal current, peak, sent
        for _ in range(5):
            permit = await acquire_until_permit(throttle, ep, limits)
            current += 1
            peak = max(peak, current)
            await asyncio.sleep(0.01)  # the request in flight
            current -= 1
            sent += 1
            await throttle.release(permit)

    await asyncio.gather(*(worker(make_worker()) for _ in range(8)))
    assert sent == 40
    assert peak == limits.max_in_flight


async def test_a_dead_workers_slots_come_back_when_their_leases_expire(make_worker: MakeWorker) -> None:
    limits = Limits(rate=100, max_in_flight=2, lease=0.3, busy_retry=0.05)
    ep = endpoint()
    dead = make_worker()
    held = [await dead.acquire(ep, limits), await dead.acquire(ep, limits)]
    assert all(isinstance(p, Permit) for p in held)
    # The worker dies here: it never releases.
    survivor = make_worker()
    refused = await survivor.acquire(ep, limits)
    assert isinstance(refused, Wait) and refused.reason == "in_flight"
    assert 0 < refused.seconds <= limits.busy_retry
    permit = await acquire_until_permit(survivor, ep, limits)
    assert permit.granted_at >= min(p.expires_at for p in held if isinstance(p, Permit))


async def test_release_frees_the_slot_at_once(make_worker: MakeWorker) -> None:
    limits = Limits(rate=100, max_in_flight=1)
    ep = endpoint()
    a, b = make_worker(), make_worker()
    first = await a.acquire(ep, limits)
    assert isinstance(first, Permit)
    assert isinstance(await b.acquire(ep, limits), Wait)
    await a.release(first)
    assert isinstance(await b.acquire(ep, limits), Permit)


async def test_a_saturated_or_paused_endpoint_does_not_hold_up_another(make_worker: MakeWorker) -> None:
    limits = Limits(rate=1, max_in_flight=1)
    slow, other = endpoint(), endpoint()
    throttle = make_worker()
    assert isinstance(await throttle.acquire(slow, limits), Permit)
    assert isinstance(await throttle.acquire(slow, limits), Wait)
    await throttle.pause(slow, 60)
    assert isinstance(await throttle.acquire(other, limits), Permit)


async def test_pause_defers_every_worker_and_keeps_the_longer_pause(make_worker: MakeWorker) -> None:
    limits = Limits()
    ep = endpoint()
    await make_worker().pause(ep, 30)
    await make_worker().pause(ep, 1)  # a shorter request does not cut the pause short
    answer = await make_worker().acquire(ep, limits)
    assert isinstance(answer, Wait) and answer.reason == "paused"
    assert 1 < answer.seconds <= 30


async def test_rate_wait_says_when_the_window_frees(make_worker: MakeWorker) -> None:
    limits = Limits(rate=2, period=5.0, max_in_flight=10)
    ep = endpoint()
    throttle = make_worker()
    for _ in range(2):
        permit = await throttle.acquire(ep, limits)
        assert isinstance(permit, Permit)
        await throttle.release(permit)
    answer = await throttle.acquire(ep, limits)
    assert isinstance(answer, Wait) and answer.reason == "rate"
    assert 4 < answer.seconds <= 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 0}, "rate"),
        ({"period": 0}, "period"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"lease": -1}, "lease"),
    ],
)
def test_limits_refuse_nonsense(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Limits(**kwargs)  # type: ignore[arg-type]


async def test_endpoint_ids_are_required() -> None:
    with pytest.raises(ValueError, match="endpoint id"):
        await LocalThrottle().acquire("", Limits())
