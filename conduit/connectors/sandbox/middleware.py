"""Middleware in front of a sandbox tracker: applies injected faults and logs every call."""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from conduit.connectors.sandbox.core import Sandbox

CONTROL_PREFIX = "/_sandbox"
CONVERTER = re.compile(r":\w+}")


def find_route(routes: list[BaseRoute], scope: Scope, prefix: str = "") -> tuple[str | None, str]:
    """The route name and path template a request hits, e.g. ("issues.get", "/repos/{owner}/...")."""
    for route in routes:
        match, child = route.matches(scope)
        if match is not Match.FULL:
            continue
        if isinstance(route, Mount):
            return find_route(list(route.routes), {**scope, **child}, prefix + str(route.path))
        template = prefix + str(getattr(route, "path", None) or scope["path"])
        # "/issues/{number:int}" reads better in counts as "/issues/{number}".
        return getattr(route, "name", None), CONVERTER.sub("}", template)
    return None, scope["path"]


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a `receive` that hands it on again before anything else."""
    chunks: list[bytes] = []
    pending: list[Message] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            pending.append(message)
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    pending.insert(0, {"type": "http.request", "body": body, "more_body": False})

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return body, replay


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class SandboxMiddleware:
    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.sandbox.base_url is None:
            self.sandbox.learn_base_url(scope)
        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        name, template = find_route(self.sandbox.routes, scope)
        if self.sandbox.names_from_body and scope["method"] == "POST":
            body, receive = await _buffered(receive)
            name = self.sandbox.operation_name(path, body) or name
        decision = self.sandbox.faults.for_request(path, name)
        status = 0

        held: list[Message] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            if decision.hold_ms:
                held.append(message)
            else:
                await send(message)

        if decision.delay_ms:
            await asyncio.sleep(decision.delay_ms / 1000)
        fault = decision.terminal
        try:
            if fault is None:
                await self.app(scope, receive, send_wrapper)
            elif fault.kind == "timeout":
                # Hold the request until the client gives up (disconnects) or `seconds` pass.
                try:
                    await asyncio.wait_for(_until_disconnect(receive), fault.seconds)
                    status = 499  # nginx's code for "client closed request": nothing was sent
                except TimeoutError:
                    await self.sandbox.fault_response(fault)(scope, receive, send_wrapper)
            else:
                await self.sandbox.fault_response(fault)(scope, receive, send_wrapper)
            if held:
                # The call is done; its answer leaves late (a client gone meanwhile never gets it).
                await asyncio.sleep(decision.hold_ms / 1000)
                for message in held:
                    await send(message)
        finally:
            self.sandbox.calls.record(
                scope["method"],
                path,
                name,
                template,
                status,
                fault.kind if fault else None,
                decision.delay_ms,
                (time.perf_counter() - started) * 1000,
            )
