"""Handing rows to arq on Redis: the arq job id is the outbox row id, so a double hand-over dedupes."""

from __future__ import annotations

from collections.abc import Sequence

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import ConnectionPool

# The arq function every row runs through; the row's kind picks the handler.
RUN_FUNCTION = "conduit.run"
JOB_EXPIRES_MS = 24 * 3600 * 1000

# arq's enqueue_job does one WATCH/MULTI round trip per job; this does a whole batch in one call,
# with the same rule: a job whose key (or result) exists is already queued and is left alone.
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


def job_id(row_id: int) -> str:
    return str(row_id)


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
        for row_id in ids:
            body = serialize_job(RUN_FUNCTION, (row_id,), {}, None, now)
            argv += [job_id(row_id), now, body]
        await self._script(args=argv)

    async def forget(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        keys = [
            p + job_id(i) for i in ids for p in (in_progress_key_prefix, job_key_prefix, retry_key_prefix)
        ]
        await self.redis.delete(*keys)

    async def close(self) -> None:
        if self._owns:
            await self.redis.aclose(close_connection_pool=True)
