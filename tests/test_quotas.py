"""The quota algorithm (GCRA) on both stores, driven by an injected clock: the same decisions in process
memory and in Redis, shared by every client of one Redis; a Redis that is away admits."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from conduit.quotas import MAX_RATE_LIMIT, MemoryStore, Quotas, RedisStore, Store, check_limit
from conduit.settings import Settings
from tests.conftest import free_port
from tests.logrecords import recording
from tests.quotahelpers import REDIS_URL, Clock, delete_keys, redis_or_skip

MakeStore = Callable[[], Store]


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Clock, MakeStore]]:
    """A clock and a factory of stores that share state: one object in memory; with Redis, a client of
    its own per store, as each process has."""
    clock = Clock()
    if request.param == "memory":
        shared = MemoryStore(clock)
        yield clock, lambda: shared
        return
    admin = await redis_or_skip()
    prefix = f"conduit:test:quota:{secrets.token_hex(6)}"
    made: list[RedisStore] = []

    def make() -> Store:
        store = RedisStore(Redis.from_url(REDIS_URL), prefix=prefix, clock=clock)
        made.append(store)
        return store

    try:
        yield clock, make
    finally:
        await delete_keys(admin, prefix)
        for store in made:
            await store.close()
        await admin.aclose()


async def test_a_fresh_key_spends_its_minute_at_once_then_one_per_interval(
    stores: tuple[Clock, MakeStore],
) -> None:
    clock, make = stores
    store = make()
    for _ in range(3):
        assert (await store.admit("k", 3)).allowed
    refused = await store.admit("k", 3)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(20.0)
    assert refused.retry_after_seconds == 20 and refused.limit == 3
    clock.advance(5)
    assert (await store.admit("k", 3)).retry_after == pytest.approx(15.0)
    clock.advance(15)
    assert (await store.admit("k", 3)).allowed
    assert not (await store.admit("k", 3)).allowed


async def test_refusals_do_not_extend_the_wait(stores: tuple[Clock, MakeStore]) -> None:
    clock, make = stores
    store = make()
    assert (await store.admit("k", 1)).allowed
    for _ in range(50):
        assert not (await store.admit("k", 1)).allowed
    clock.advance(60)
    assert (await store.admit("k", 1)).allowed


async def test_a_quiet_key_gets_no_more_than_its_burst(stores: tuple[Clock, MakeStore]) -> None:
    clock, make = stores
    store = make()
    clock.advance(3600)
    admitted = [(await store.admit("k", 2)).allowed for _ in range(5)]
    assert admitted == [True, True, False, False, False]


async def test_keys_are_counted_apart(stores: tuple[Clock, MakeStore]) -> None:
    _, make = stores
    store = make()
    assert (await store.admit("a", 1)).allowed
    assert not (await store.admit("a", 1)).allowed
    assert (await store.admit("b", 1)).allowed


async def test_stores_sharing_state_share_the_quota(stores: tuple[Clock, MakeStore]) -> None:
    clock, make = stores
    first, second = make(), make()
    assert (await first.admit("k", 2)).allowed
    assert (await second.admit("k", 2)).allowed
    assert not (await first.admit("k", 2)).allowed
    assert not (await second.admit("k", 2)).allowed
    clock.advance(30)
    assert (await second.admit("k", 2)).allowed
    assert not (await first.admit("k", 2)).allowed


async def test_the_largest_limit_is_a_limit_the_store_can_count(stores: tuple[Clock, MakeStore]) -> None:
    _, make = stores
    store = make()
    # 60 s / 10^9 is below a microsecond: the interval is kept at one, never zero (which would be none).
    for _ in range(3):
        assert (await store.admit("k", MAX_RATE_LIMIT)).allowed


async def test_redis_on_its_own_clock() -> None:
    admin = await redis_or_skip()
    prefix = f"conduit:test:quota:{secrets.token_hex(6)}"
    store = RedisStore(Redis.from_url(REDIS_URL), prefix=prefix)
    try:
        assert (await store.admit("k", 1)).allowed
        refused = await store.admit("k", 1)
        assert not refused.allowed and 0 < refused.retry_after <= 60
        # The key lives no longer than the quota needs it.
        assert 0 < await admin.pttl(f"{prefix}:k") <= 60_000
    finally:
        await admin.delete(f"{prefix}:k")
        await store.close()
        await admin.aclose()


async def test_zero_is_no_limit_and_a_project_limit_wins() -> None:
    quotas = Quotas(MemoryStore(Clock()), ingest_default=0, api_default=0)
    for _ in range(100):
        assert (await quotas.ingest("k", None)).allowed
        assert (await quotas.api("token:1")).allowed
    assert (await quotas.ingest("k", 1)).allowed
    assert not (await quotas.ingest("k", 1)).allowed
    defaulted = Quotas(MemoryStore(Clock()), ingest_default=1, api_default=1)
    assert (await defaulted.ingest("k", None)).allowed
    assert not (await defaulted.ingest("k", None)).allowed
    assert (await defaulted.ingest("other", 5)).allowed
    assert (await defaulted.api("token:1")).allowed
    assert not (await defaulted.api("token:1")).allowed
    # Ingest and API counts never mix, even for equal subjects.
    assert (await defaulted.ingest("token:1", None)).allowed


async def test_a_redis_that_is_away_admits_and_says_so_once() -> None:
    store = RedisStore(Redis.from_url(f"redis://127.0.0.1:{free_port()}/0"))
    quotas = Quotas(store, ingest_default=1)
    try:
        with recording(("conduit.quotas",), level=logging.WARNING) as logged:
            for _ in range(3):
                assert (await quotas.ingest("k", None)).allowed
        assert len(logged.records) == 1
        assert "admitting without a limit" in logged.messages()[0]
    finally:
        await quotas.close()


@pytest.mark.parametrize("value", [0, -1, MAX_RATE_LIMIT + 1, 2**63, 1.5, "10", True, None])
def test_check_limit_refuses_what_is_not_a_quota(value: object) -> None:
    with pytest.raises(ValueError):
        check_limit(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1, 60, MAX_RATE_LIMIT])
def test_check_limit_accepts_quotas(value: int) -> None:
    assert check_limit(value) == value


@pytest.mark.parametrize("value", ["-1", "1.5", "ten", "1e3", str(MAX_RATE_LIMIT + 1), "9" * 400])
def test_settings_refuse_hostile_limits(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    for name in ("CONDUIT_INGEST_RATE_LIMIT", "CONDUIT_API_RATE_LIMIT"):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError):
            Settings()
        monkeypatch.delenv(name)


def test_settings_read_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUIT_INGEST_RATE_LIMIT", "600")
    monkeypatch.setenv("CONDUIT_API_RATE_LIMIT", "120")
    settings = Settings()
    assert (settings.ingest_rate_limit, settings.api_rate_limit) == (600, 120)
    assert Settings.model_fields["ingest_rate_limit"].default == 0


async def test_memory_forgets_subjects_whose_minute_has_passed() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    for i in range(10_000):
        assert (await store.admit(f"old-{i}", 1)).allowed
    clock.advance(60)
    assert (await store.admit("new", 1)).allowed
    assert len(store._tat) == 1
    # Forgetting changed no decision: the newcomer is still counted, the old keys start afresh.
    assert not (await store.admit("new", 1)).allowed
    assert (await store.admit("old-0", 1)).allowed
