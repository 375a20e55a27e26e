"""Handing rows to arq on Redis: one arq job carries several outbox rows.

arq spends several Redis round trips on every job it runs, whatever the job does; carrying up to
ROWS_PER_JOB rows in each job shares that cost. Each hand-over gets fresh arq job ids: a row handed
over twice (a sweeper racing the dispatcher, or a dead worker's job that arq runs again) is kept
apart by the database, where only a QUEUED row can start, never by Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import ConnectionPool

# The arq function every row runs through; the row's kind picks the handler.
RUN_FUNCTION = "conduit.run"
JOB_EXPIRES_MS = 24 * 3600 * 1000
# Small enough that a claimed batch still spreads over several workers (and their concurrency).
ROWS_PER_JOB = 10

# arq's enqueue_job does one WATCH/MULTI round trip per job; this does a whole batch in one call,
# with arq's rule: a job whose key (or result) exists is already queued and is left alone.
_ENQUEUE = """
local queue, expires, job_prefix, result_prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local added = 0
for i = 5, #ARGV, 3 do
  local id = ARGV[i]
  local job_key = job_prefix .. id
  if redis.call('exists', job_key, result_prefix .. id) == 0 then
    redis.call('psetex', job_key, expires, ARGV[i + 2])
    redis.call('zadd', queue, ARGV[i + 1], id)
    added = added + 1
  end
end
return added
"""


class RedisQueue:
    def __init__(self, redis: ArqRedis, queue_name: str, *, owns: bool = False) -> None:
        self.redis = redis
        self.queue_name = queue_name
        self._owns = owns
        self._script = redis.register_script(_ENQUEUE)

    @classmethod
    def from_url(cls, url: str, queue_name: str) -> RedisQueue:
        # Connects lazily: an API process starts, and commits, whether or not Redis is up.
        pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        return cls(ArqRedis(pool), queue_name, owns=True)

    async def hand(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        now = timestamp_ms()
        argv: list[str | bytes | int] = [self.queue_name, JOB_EXPIRES_MS, job_key_prefix, result_key_prefix]
        for start in range(0, len(ids), ROWS_PER_JOB):
            rows = [int(i) for i in ids[start : start + ROWS_PER_JOB]]
            body = serialize_job(RUN_FUNCTION, (rows,), {}, None, now)
            argv += [uuid.uuid4().hex, now, body]
        await self._script(args=argv)

    async def forget(self, ids: Sequence[int]) -> None:
        # Job ids are never reused, so a dead worker's leftovers cannot shadow a new hand-over;
        # arq runs such a job again once its in-progress key expires, and finds its rows taken.
        return None

    async def close(self) -> None:
        if self._owns:
            await self.redis.aclose(close_connection_pool=True)
