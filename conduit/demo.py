"""`conduit demo`: one command from nothing to a running hub with issues to look at."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import time
import uuid
from datetime import timedelta

import httpx
import uvicorn

from conduit.app import create_app
from conduit.auth import members
from conduit.bootstrap import BootstrapResult, bootstrap
from conduit.connectors import registry
from conduit.connectors.sandbox import Sandbox, SandboxServer, every_sandbox, operator_settings
from conduit.db.migrate import upgrade
from conduit.logs import install_access_log_redaction
from conduit.runtime import Runtime
from conduit.settings import Settings

DEMO_OWNER = "owner@example.com"
# Long enough to read the banner, make coffee and come back; `conduit signin-link` makes another.
DEMO_LINK_TTL = timedelta(days=1)

SAMPLES = [
    ("ZeroDivisionError", "division by zero", "billing.invoice", "total_per_item"),
    ("KeyError", "'customer_id'", "accounts.views", "profile"),
    ("TimeoutError", "upstream payments API did not answer in 10s", "payments.client", "charge"),
]


def sample_envelope(dsn_key: str, exc_type: str, value: str, module: str, function: str) -> bytes:
    event_id = uuid.uuid4().hex
    event = {
        "event_id": event_id,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "environment": "demo",
        "release": "demo@1.0.0",
        "exception": {
            "values": [
                {
                    "type": exc_type,
                    "value": value,
                    "module": None,
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "app.py",
                                "module": "app",
                                "function": "handle",
                                "lineno": 12,
                                "in_app": True,
                            },
                            {
                                "filename": module.replace(".", "/") + ".py",
                                "module": module,
                                "function": function,
                                "lineno": 42,
                                "in_app": True,
                            },
                        ]
                    },
                }
            ]
        },
        "tags": {"demo": "yes"},
    }
    header = {"event_id": event_id, "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    body = json.dumps(event).encode()
    lines = [json.dumps(header).encode(), json.dumps({"type": "event", "length": len(body)}).encode(), body]
    return gzip.compress(b"\n".join(lines))


async def send_samples(base_url: str, result: BootstrapResult) -> int:
    key = result.dsn.split("://", 1)[1].split("@", 1)[0]
    sent = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        for exc_type, value, module, function in SAMPLES:
            for _ in range(2):  # twice each, to show grouping
                r = await client.post(
                    f"/api/{result.project_id}/envelope/",
                    content=sample_envelope(key, exc_type, value, module, function),
                    headers={
                        "Content-Encoding": "gzip",
                        "Content-Type": "application/x-sentry-envelope",
                        "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_client=demo/1.0, sentry_key={key}",
                    },
                )
                sent += r.status_code == 200
    return sent


async def _serve(settings: Settings, host: str, port: int) -> None:
    servers = [await SandboxServer(sandbox).astart() for sandbox in every_sandbox()]
    try:
        sandboxes = [server.sandbox for server in servers if server.sandbox is not None]
        await _serve_with(operator_settings(settings, sandboxes), host, port, sandboxes)
    finally:
        for server in reversed(servers):
            await server.astop()


async def _serve_with(settings: Settings, host: str, port: int, sandboxes: list[Sandbox]) -> None:
    runtime = Runtime.create(settings)
    async with runtime.sessions() as session:
        result = await bootstrap(session, "Demo", "demo-app", settings.public_url)
        owner = await members.ensure_owner(session, result.organization_id, DEMO_OWNER, "Demo Owner")
        _, link_token = await members.issue_link(session, owner, DEMO_LINK_TTL)
    config = uvicorn.Config(create_app(runtime=runtime), host=host, port=port, log_level="warning")
    install_access_log_redaction()
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # re-raise why it could not start (e.g. the port is taken)
            return
        await asyncio.sleep(0.05)
    base = f"http://{host}:{port}"
    sign_in = members.link_url(base, link_token)
    sent = await send_samples(base, result)
    trackers = "  ".join(f"{registry.provider(sb.name).name} {sb.url}" for sb in sandboxes)
    first = next(sb for sb in sandboxes if registry.provider(sb.name).auth_mode == "oauth2")
    by_token = [sb for sb in sandboxes if registry.provider(sb.name).auth_mode == "api_token"]
    token_hint = "".join(
        f"  Connect {registry.provider(sb.name).name} with a token:  "
        f"curl -X POST {sb.url}/_sandbox/api-tokens"
        f'  then  mutation {{ connectTracker(provider: "{sb.name}", apiToken: "<token>", baseUrl: '
        f'"{sb.url}") {{ __typename }} }}\n'
        for sb in by_token
    )
    token_hint += "".join(
        f"  Connect the in-house tracker (the contract's reference service): curl -X POST "
        f"{sb.url}/_sandbox/api-tokens  (its whsec_ secret), then  mutation {{ createApp(input: {{name: "
        f'"Ops board", kind: INTERNAL, scopes: ["issue:read"], trackerUrl: "{sb.url}"}}) {{ __typename }} }}'
        f'  and  connectTracker(provider: "{sb.name}", app: "<app id>", apiToken: "<secret>")\n'
        for sb in sandboxes
        if registry.provider(sb.name).auth_mode == "app"
    )
    print(
        "\nConduit is running (embedded: SQLite + in-process jobs).\n"
        f"  Console:   {sign_in}  (signs you in as {owner.email}, the owner; works once, for a day;\n"
        f"             another:  conduit signin-link {owner.email})\n"
        f"  GraphiQL:  {base}/graphql  (add the header  Authorization: Bearer {result.token})\n"
        f"  Token:     {result.token}\n"
        f"  DSN:       {result.dsn}\n"
        f"  Sent {sent} sample errors; try:  {{ organization {{ projects {{ nodes {{ name "
        "issues { nodes { title count status } } } } } }\n"
        f"  Sandbox trackers (real HTTP, imitating each API): {trackers}\n"
        f'  Connect one:  mutation {{ startInstallation(provider: "{first.name}", baseUrl: "{first.url}") '
        "{ ... on StartInstallationPayload { authorizeUrl } } }  then open the URL.\n"
        f"{token_hint}"
        "Press Ctrl+C to stop.\n",
        flush=True,
    )
    try:
        await task
    finally:
        await runtime.close()


def run_demo(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> int:
    if settings.public_url == Settings.model_fields["public_url"].default:
        settings = settings.model_copy(update={"public_url": f"http://{host}:{port}"})
    upgrade(settings.database_url, quiet=True)
    # The banner is what a newcomer needs to read; per-job lines would bury it.
    for name in ("conduit.jobs", "httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, host, port))
    return 0
