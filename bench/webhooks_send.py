"""Delivery throughput: Conduit's sender vs a bare httpx loop, same signed payloads, same receiver.

The receiver is a Starlette app under uvicorn in a separate process on loopback, verifying every
signature with the reference `standardwebhooks` package and answering 204. Both sides send the same
bodies with the same concurrency from one client per side. The bare side is the ceiling: an
httpx.AsyncClient with default settings, an HMAC per request, a POST. Conduit's side adds what each real
attempt pays for: the address check and pinned connection, the whole-attempt deadline, reading the
response excerpt, timing and classifying. Rounds alternate so drift hits both sides equally.

    .venv/bin/python bench/webhooks_send.py [--deliveries 1000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from common import free_port, run_receiver, wait_listening

from conduit.events.catalog import EVENT_TYPES
from conduit.webhooks import payloads, sender, signing


def bodies(n: int) -> list[tuple[str, bytes]]:
    names = sorted(EVENT_TYPES)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        env = payloads.envelope(name, EVENT_TYPES[name].example, timestamp=now)
        out.append((payloads.message_id(f"event:{i}", "endpoint:1"), payloads.encode_body(env)))
    return out


async def run(
    concurrency: int, items: list[tuple[str, bytes]], one: Callable[[str, bytes], Awaitable[bool]]
) -> float:
    queue = list(reversed(items))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            msg_id, body = queue.pop()
            if not await one(msg_id, body):
                failures += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{failures} deliveries failed")
    return len(items) / elapsed


async def main(deliveries: int, concurrency: int, rounds: int) -> None:
    secret = signing.generate_secret()
    key = signing.parse_secret(secret)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    proc = multiprocessing.get_context("spawn").Process(target=run_receiver, args=(port, secret), daemon=True)
    proc.start()
    try:
        wait_listening(port)
        items = bodies(deliveries)
        conduit_client = sender.make_client(allow_private=True)
        bare_client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)
        )

        async def through_conduit(msg_id: str, body: bytes) -> bool:
            result = await sender.send(conduit_client, url, msg_id, body, [secret])
            return result.succeeded

        async def bare(msg_id: str, body: bytes) -> bool:
            ts = str(int(time.time()))
            digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": ts,
                "webhook-signature": "v1," + base64.b64encode(digest).decode(),
            }
            response = await bare_client.post(url, content=body, headers=headers)
            return response.is_success

        # Warm both pools and code paths before measuring.
        await run(concurrency, items[:200], through_conduit)
        await run(concurrency, items[:200], bare)
        conduit_rates, bare_rates = [], []
        for _ in range(rounds):
            conduit_rates.append(await run(concurrency, items, through_conduit))
            bare_rates.append(await run(concurrency, items, bare))
        await conduit_client.aclose()
        await bare_client.aclose()
    finally:
        proc.terminate()
        proc.join(5)

    c, b = statistics.median(conduit_rates), statistics.median(bare_rates)
    print(f"deliveries per round: {deliveries}, concurrency: {concurrency}, rounds: {rounds}")
    print(
        f"conduit sender : {c:8.0f} deliveries/s (median; rounds {', '.join(f'{r:.0f}' for r in conduit_rates)})"
    )
    print(
        f"bare httpx loop: {b:8.0f} deliveries/s (median; rounds {', '.join(f'{r:.0f}' for r in bare_rates)})"
    )
    print(f"ratio conduit/bare: {c / b:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.deliveries, args.concurrency, args.rounds))
