"""What tracing costs ingest: off (the default) against the code without its hooks, and on, in one run.

Three apps over one database, in this process behind httpx's ASGI transport (no sockets, so the figures
are the server's own cost), posting the same kind of envelopes as `bench/ingest.py`:

- `without hooks`: Conduit as it was before tracing and structured logs: no request-id middleware, and
  no trace context asked for when outbox rows are written;
- `tracing off`: Conduit as shipped, with no OTEL_* variable set; this should be within noise of the first;
- `tracing on`: an SDK tracer provider recording every span (the Starlette, SQLAlchemy and outbox spans)
  into a batch processor whose exporter keeps them in memory, so the figure is the SDK's cost alone.

Rounds alternate so drift hits every side equally; the best and the median round of each are printed.
Nothing here asserts a timing.

    .venv/bin/python bench/tracing.py                        # SQLite
    .venv/bin/python bench/tracing.py --database postgresql  # a throwaway PostgreSQL database
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from common import database
from ingest import make_body, rate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette

from conduit import logs, tracing
from conduit.app import create_app
from conduit.bootstrap import bootstrap
from conduit.jobs import outbox
from conduit.runtime import Runtime
from conduit.settings import Settings
from conduit.tracing.otel import Tracing

SIDES = ("without hooks", "tracing off", "tracing on")


def without_hooks(app: Starlette) -> Starlette:
    """The app with the request-id middleware taken out (Starlette builds its stack on first use)."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not logs.RequestId]
    app.middleware_stack = None
    return app


def _no_context() -> str | None:
    return None


@contextmanager
def hooks(side: str, provider: TracerProvider) -> Iterator[None]:
    """Put the process in the state `side` runs in: the outbox's hook there or not, tracing on or off.

    Tracing is started once and then switched by its module global, which is all the hooks test: the
    instrumentations stay in place, but record nothing outside the "on" app's requests.
    """
    global _tracing
    original = outbox.current_traceparent
    if side == "without hooks":
        # What outbox.add did before: nothing asked of tracing (the column is written as NULL either way).
        outbox.current_traceparent = _no_context
    if side == "tracing on":
        _tracing = _tracing or tracing.start(provider)
        tracing._active = _tracing
    try:
        yield
    finally:
        outbox.current_traceparent = original
        tracing._active = None


_tracing: Tracing | None = None


async def main(args: argparse.Namespace) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=100_000))
    with tempfile.TemporaryDirectory() as tmp:
        async with database(args.database, Path(tmp)) as url:
            settings = Settings(env="test", database_url=url, data_dir=Path(tmp), secret_key="b" * 40)
            runtimes = {side: Runtime.create(settings) for side in SIDES}
            async with runtimes["tracing off"].sessions() as session:
                boot = await bootstrap(session, "bench", "bench", "http://localhost")
            public_key = boot.dsn.split("://", 1)[1].split("@", 1)[0]
            url_path = f"/api/{boot.project_id}/envelope/"
            headers = {
                "X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7",
                "Content-Encoding": "gzip",
            }
            # Each side's app is built in the state it runs in: instrumented only where tracing is on.
            apps: dict[str, Starlette] = {}
            for side in SIDES:
                with hooks(side, provider):
                    app = create_app(runtime=runtimes[side])
                    apps[side] = without_hooks(app) if side == "without hooks" else app
            clients = {
                side: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
                for side, app in apps.items()
            }

            def poster(client: httpx.AsyncClient) -> Callable[[bytes], Awaitable[int]]:
                async def post(body: bytes) -> int:
                    return (await client.post(url_path, content=body, headers=headers)).status_code

                return post

            for side, client in clients.items():
                with hooks(side, provider):
                    await rate(poster(client), [make_body(public_key, boot.project_id) for _ in range(50)], 4)
            results: dict[str, list[float]] = {side: [] for side in SIDES}
            for _ in range(args.rounds):
                for side, client in clients.items():
                    bodies = [make_body(public_key, boot.project_id) for _ in range(args.events)]
                    with hooks(side, provider):
                        results[side].append(await rate(poster(client), bodies, args.concurrency))
            for client in clients.values():
                await client.aclose()
            for runtime in runtimes.values():
                await runtime.close()
            tracing._active = _tracing
            tracing.stop()

    print(
        f"database: {args.database}, {args.events} events x {args.rounds} rounds, concurrency {args.concurrency}"
    )
    base_best = max(results["without hooks"])
    base_median = statistics.median(results["without hooks"])
    for side in SIDES:
        best, median = max(results[side]), statistics.median(results[side])
        print(
            f"{side:<14}: best {best:7.0f} events/s ({best / base_best:5.2f})   "
            f"median {median:7.0f} events/s ({median / base_median:5.2f})"
        )
    print(f"spans recorded while on: {len(exporter.get_finished_spans())}")
    print("ratios are against `without hooks`; `tracing off` within noise of 1.00 means off costs nothing")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
