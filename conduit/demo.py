"""`conduit demo`: one command from nothing to a running hub with issues to look at."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import time
import uuid

import httpx
import uvicorn

from conduit.app import create_app
from conduit.bootstrap import BootstrapResult, bootstrap
from conduit.db.migrate import upgrade
from conduit.logs import install_access_log_redaction
from conduit.runtime import Runtime
from conduit.sandbox import GitHubSandbox, JiraSandbox, SandboxServer
from conduit.settings import Settings, TrackerClient

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


# The sandbox trackers' built-in OAuth clients.
SANDBOX_CLIENTS = {
    "github": ("sandbox-github-app", "sandbox-github-app-secret"),
    "jira": ("sandbox-jira-client", "sandbox-jira-client-secret-0123456789abcdef"),
}


def sandbox_settings(settings: Settings, trackers: dict[str, str]) -> Settings:
    """`settings` as an operator would set them for the sandbox trackers at `trackers` (provider →
    URL): each sandbox's client registered for exactly its URL, and loopback tracker URLs allowed."""
    clients = [
        TrackerClient(
            provider=key,
            base_url=url,
            client_id=SANDBOX_CLIENTS[key][0],
            client_secret=SANDBOX_CLIENTS[key][1],
        )
        for key, url in trackers.items()
    ]
    return settings.model_copy(
        update={
            "allow_private_tracker_urls": True,
            "tracker_clients": [*settings.tracker_clients, *clients],
        }
    )


async def _serve(settings: Settings, host: str, port: int) -> None:
    github = await SandboxServer(GitHubSandbox(repos=("acme/widgets",))).astart()
    jira = await SandboxServer(JiraSandbox(projects=("OPS",))).astart()
    settings = sandbox_settings(settings, {"github": github.url, "jira": jira.url})
    try:
        await _serve_with(settings, host, port, {"github": github.url, "jira": jira.url})
    finally:
        await github.astop()
        await jira.astop()


async def _serve_with(settings: Settings, host: str, port: int, trackers: dict[str, str]) -> None:
    runtime = Runtime.create(settings)
    async with runtime.sessions() as session:
        result = await bootstrap(session, "Demo", "demo-app", settings.public_url)
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
    sent = await send_samples(base, result)
    print(
        "\nConduit is running (embedded: SQLite + in-process jobs).\n"
        f"  GraphiQL:  {base}/graphql  (add the header  Authorization: Bearer {result.token})\n"
        f"  Token:     {result.token}\n"
        f"  DSN:       {result.dsn}\n"
        f"  Sent {sent} sample errors; try:  {{ organization {{ projects {{ nodes {{ name "
        "issues { nodes { title count status } } } } } }\n"
        f"  Sandbox trackers (real HTTP, imitating each API): GitHub {trackers['github']}  "
        f"Jira {trackers['jira']}\n"
        f'  Connect one:  mutation {{ startInstallation(provider: "github", baseUrl: "{trackers["github"]}") '
        "{ ... on StartInstallationPayload { authorizeUrl } } }  then open the URL.\n"
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
    upgrade(settings.database_url)
    # The banner is what a newcomer needs to read; per-job lines would bury it.
    for name in ("conduit.jobs", "httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, host, port))
    return 0
