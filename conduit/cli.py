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

from conduit.logs import configure_logging
from conduit.settings import ConfigurationError, Settings, get_settings

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

log = logging.getLogger("conduit.cli")


def _migrate(settings: Settings, quiet: bool = True) -> None:
    from conduit.db.migrate import upgrade

    upgrade(settings.database_url, quiet=quiet)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings, quiet=False)
    print("database is at the latest revision")
    return 0


def server_config(app: Starlette, host: str, port: int, max_connections: int = 1000) -> uvicorn.Config:
    """How `conduit serve` runs uvicorn: its access log redacts secrets (conduit.logs), and it holds at
    most `max_connections` connections at once, so slow clients cannot take every descriptor."""
    import uvicorn

    from conduit.logs import install_access_log_redaction, uvicorn_log_config

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=uvicorn_log_config(),
        log_level="info",
        proxy_headers=True,
        limit_concurrency=max_connections,
    )
    install_access_log_redaction()
    return config


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from conduit.app import create_app

    workers = getattr(args, "workers", 1)
    if workers < 1:
        print("conduit: --workers must be at least 1", file=sys.stderr)
        return 2
    if workers > 1 and not settings.redis_url:
        # Live subscriptions and quotas are shared between processes through Redis; without it each
        # worker would see only its own events and allow the whole quota on its own.
        print(
            "conduit: --workers above 1 needs CONDUIT_REDIS_URL (live subscriptions and quotas are "
            "shared between the processes through Redis)",
            file=sys.stderr,
        )
        return 2
    if settings.is_sqlite:
        # Embedded mode is one command: the schema is brought up to date before serving.
        _migrate(settings)
    if workers == 1:
        config = server_config(create_app(settings), args.host, args.port, settings.http_max_connections)
        uvicorn.Server(config).run()
        return 0
    from conduit.logs import uvicorn_log_config

    _share_metrics(settings)
    # Each worker is a new process that builds its own app from the same environment; uvicorn's
    # supervisor restarts one that dies. Jobs are claimed through the database, so every worker may
    # run them.
    uvicorn.run(
        "conduit.app:create_worker_app",
        factory=True,
        workers=workers,
        host=args.host,
        port=args.port,
        log_config=uvicorn_log_config(),
        proxy_headers=True,
        limit_concurrency=settings.http_max_connections,
    )
    return 0


def _share_metrics(settings: Settings) -> None:
    """Workers share one `/metrics` through prometheus-client's files: a fresh directory per start
    unless the operator names one."""
    import shutil

    from conduit.metrics import MULTIPROC_DIR_ENV

    if os.environ.get(MULTIPROC_DIR_ENV):
        return
    directory = settings.data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_DIR_ENV] = str(directory)


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


def cmd_signin_link(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from conduit.auth import members
    from conduit.errors import Invalid
    from conduit.runtime import Runtime

    if settings.is_sqlite:
        _migrate(settings)

    async def run() -> tuple[str | None, list[str]]:
        rt = Runtime.create(settings)
        try:
            async with rt.sessions() as session:
                found = await members.by_email(session, args.email, args.org)
                if len(found) != 1:
                    return None, [org.slug for _, org in found]
                _, value = await members.issue_link(session, found[0][0], timedelta(minutes=args.minutes))
        finally:
            await rt.close()
        return members.link_url(settings.public_url, value), []

    try:
        url, slugs = asyncio.run(run())
    except Invalid as exc:
        print(f"conduit: {exc}", file=sys.stderr)
        return 2
    if url is None:
        if slugs:
            print(
                f"conduit: {args.email} is a member of several organizations; give --org, one of: "
                + ", ".join(slugs),
                file=sys.stderr,
            )
        else:
            where = f" of {args.org}" if args.org else ""
            print(f"conduit: no member{where} has the email {args.email}", file=sys.stderr)
        return 1
    print(url)
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
        if name == "serve":
            p.add_argument(
                "--workers", type=int, default=1, help="API processes (above 1 needs CONDUIT_REDIS_URL)"
            )
    add("migrate", cmd_migrate, "upgrade the database to the latest revision")
    p = add("export-schema", cmd_export_schema, "write the GraphQL SDL")
    p.add_argument("--output", "-o", default="schema.graphql", help="file to write, or - for stdout")
    p = add("bootstrap", cmd_bootstrap, "create an organization, a project and an admin token")
    p.add_argument("--org", required=True)
    p.add_argument("--project", required=True)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("signin-link", cmd_signin_link, "print a one-time link that signs a member in to the console")
    p.add_argument("email")
    p.add_argument("--org", help="the organization's slug, when the email is a member of several")
    p.add_argument("--minutes", type=int, default=15, help="how long the link works (default 15)")
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
        configure_logging(settings.log_format)
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
