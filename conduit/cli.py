"""The `conduit` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from conduit.settings import ConfigurationError, Settings, get_settings

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

log = logging.getLogger("conduit.cli")


def _migrate(settings: Settings) -> None:
    from conduit.db.migrate import upgrade

    upgrade(settings.database_url)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    print("database is at the latest revision")
    return 0


def server_config(app: Starlette, host: str, port: int, max_connections: int = 1000) -> uvicorn.Config:
    """How `conduit serve` runs uvicorn: its access log redacts secrets (conduit.logs), and it holds at
    most `max_connections` connections at once, so slow clients cannot take every descriptor."""
    import uvicorn

    from conduit.logs import install_access_log_redaction

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
        limit_concurrency=max_connections,
    )
    install_access_log_redaction()
    return config


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from conduit.app import create_app

    if settings.is_sqlite:
        # Embedded mode is one command: the schema is brought up to date before serving.
        _migrate(settings)
    config = server_config(create_app(settings), args.host, args.port, settings.http_max_connections)
    uvicorn.Server(config).run()
    return 0


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from conduit.resolvers.sdl import export_sdl

    sdl = export_sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(sdl)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from conduit.bootstrap import bootstrap
    from conduit.runtime import Runtime

    _migrate(settings)

    async def run() -> dict[str, object]:
        rt = Runtime.create(settings)
        try:
            async with rt.sessions() as session:
                r = await bootstrap(session, args.org, args.project, settings.public_url)
        finally:
            await rt.close()
        return {
            "organization_id": r.organization_id,
            "project_id": r.project_id,
            "token": r.token,
            "dsn": r.dsn,
        }

    result = asyncio.run(run())
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from conduit import wiring  # noqa: F401 - registers every job kind before the worker starts
    from conduit.jobs.worker import run_worker

    return run_worker(settings, burst=args.burst)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from conduit.demo import run_demo

    return run_demo(settings, host=args.host, port=args.port)


def cmd_tracker_check(args: argparse.Namespace, settings: Settings) -> int:
    from conduit.connectors.inhouse.check import run_checks

    secret = args.secret or os.environ.get("CONDUIT_TRACKER_SECRET", "")
    if not secret:
        print(
            "conduit: give the service's signing secret: --secret or CONDUIT_TRACKER_SECRET", file=sys.stderr
        )
        return 2
    results = run_checks(args.url, secret, project=args.project, slow=args.slow)
    for result in results:
        print(result.line())
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conduit", description="Conduit integration hub")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Callable[[argparse.Namespace, Settings], int]] = {}

    def add(
        name: str, fn: Callable[[argparse.Namespace, Settings], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.set_defaults(func=fn)
        commands[name] = fn
        return p

    for name, fn, help in (
        ("serve", cmd_serve, "serve the API"),
        ("demo", cmd_demo, "migrate, bootstrap, serve and send sample errors"),
    ):
        p = add(name, fn, help)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
    add("migrate", cmd_migrate, "upgrade the database to the latest revision")
    p = add("export-schema", cmd_export_schema, "write the GraphQL SDL")
    p.add_argument("--output", "-o", default="schema.graphql", help="file to write, or - for stdout")
    p = add("bootstrap", cmd_bootstrap, "create an organization, a project and an admin token")
    p.add_argument("--org", required=True)
    p.add_argument("--project", required=True)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("worker", cmd_worker, "run a job worker (needs CONDUIT_REDIS_URL)")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p = add("tracker-check", cmd_tracker_check, "check a service against the in-house tracker contract")
    p.add_argument("url", help="the service's contract base URL")
    p.add_argument("--secret", help="the shared whsec_ secret (or CONDUIT_TRACKER_SECRET)")
    p.add_argument("--project", help="the project to create the probe ticket in (default: the first)")
    p.add_argument("--slow", type=float, default=5.0, help="seconds an answer may take (default 5)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
        return int(args.func(args, settings))
    except ConfigurationError as exc:
        print(f"conduit: configuration error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        print(f"conduit: configuration error: {problems}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
