"""What every sandbox tracker shares: in-memory state, the Starlette app, the common control API.

A tracker subclass supplies its API routes, its own `/_sandbox` setup routes, how its errors look,
and the "person at the tracker" operations behind the shared controls (`people.py`), so that every
sandbox can be driven through the same paths.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope

from conduit.connectors.sandbox import people
from conduit.connectors.sandbox.calls import CallLog
from conduit.connectors.sandbox.control import ControlError, control_json, opt, req
from conduit.connectors.sandbox.faults import Fault, FaultError, FaultSet
from conduit.connectors.sandbox.middleware import CONTROL_PREFIX, SandboxMiddleware
from conduit.connectors.sandbox.oauth import OAuthError, OAuthServer, TokenPolicy
from conduit.connectors.sandbox.state import Clock, Sequence
from conduit.connectors.sandbox.webhooks import Outbox


class ApiError(Exception):
    """An error the tracker API answers with; the tracker renders it in its own shape."""

    def __init__(
        self, status: int, message: str, *, errors: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}


async def api_json(request: Request, message: str) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, message) from None


async def read_form(request: Request) -> dict[str, str]:
    """Token requests come form-encoded (the standard) or as JSON; client credentials may be Basic auth."""
    raw = (await request.body()).decode()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            data = {}
        form = {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    else:
        form = dict(parse_qsl(raw)) | dict(request.query_params)
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            user, secret = "", ""
        form.setdefault("client_id", user)
        form.setdefault("client_secret", secret)
    return form


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "token") and value.strip() else None


class Sandbox(ABC):
    """One fake tracker: its state lives in this object, its HTTP face is `app`."""

    # The provider key of the tracker it imitates.
    name: ClassVar[str] = "sandbox"
    # The OAuth client (id, secret) built into the sandbox: what an operator registers for it.
    client: ClassVar[tuple[str, str]]
    # The headers a delivery's signature travels in (`/webhooks/send` leaves them out when asked).
    signature_headers: ClassVar[tuple[str, ...]]
    # Who acts "in the tracker" through the control API unless told otherwise: never the OAuth user.
    human: str
    # Whether a request's name (what faults `match` and the call log counts) is read from its body
    # by `operation_name`, for APIs whose one path says nothing (GraphQL).
    names_from_body: ClassVar[bool] = False

    def __init__(self, seed: str, policies: dict[str, TokenPolicy], user: str) -> None:
        self.clock = Clock()
        self.ids = Sequence(seed)
        # Guards the tracker's data; handlers never await while holding it.
        self.lock = threading.RLock()
        self.faults = FaultSet()
        self.calls = CallLog()
        self.outbox = Outbox(self.clock, self.ids, self.faults)
        self.oauth = OAuthServer(self.clock, self.ids, policies, user)
        self.base_url: str | None = None
        self._routes: list[BaseRoute] | None = None
        self._app: Starlette | None = None

    # -- what a tracker supplies ---------------------------------------------------------------------
    @abstractmethod
    def api_routes(self) -> list[BaseRoute]: ...

    @abstractmethod
    def control_routes(self) -> list[BaseRoute]: ...

    @abstractmethod
    def error_response(self, error: ApiError) -> Response: ...

    @abstractmethod
    def fault_response(self, fault: Fault) -> Response: ...

    @abstractmethod
    def snapshot(self) -> dict[str, Any]: ...

    @abstractmethod
    def scopes(self) -> list[str]:
        """The scopes (repositories, projects) tickets can be created in, oldest first."""

    # -- a person at the tracker (the shared controls call these with `lock` held) -------------------
    @abstractmethod
    def add_person(self, name: str, email: str, email_shown: bool) -> str:
        """Create a user who shows (or hides) `email`; returns the id the tracker knows them by."""

    @abstractmethod
    def ticket_json(self, key: str) -> dict[str, Any]:
        """The ticket as the tracker's API shows it (also once deleted)."""

    @abstractmethod
    def close_ticket(self, key: str, actor: str) -> None: ...

    @abstractmethod
    def reopen_ticket(self, key: str, actor: str) -> None: ...

    @abstractmethod
    def comment_ticket(self, key: str, actor: str, text: str) -> None: ...

    @abstractmethod
    def assign_ticket(self, key: str, actor: str, account: str | None) -> None: ...

    @abstractmethod
    def delete_ticket(self, key: str, actor: str) -> None: ...

    def move_ticket(self, key: str, actor: str, scope: str) -> str:
        """Move the ticket to another scope, as a person would; returns its new key. A tracker whose
        sandbox cannot move tickets says so."""
        raise ControlError(f"this {self.name} sandbox cannot move tickets", 400)

    # -- the app -------------------------------------------------------------------------------------
    @property
    def routes(self) -> list[BaseRoute]:
        if self._routes is None:
            self._routes = self.api_routes()
        return self._routes

    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = self._build()
        return self._app

    @property
    def url(self) -> str:
        if self.base_url is None:
            raise RuntimeError(f"the {self.name} sandbox has not been served yet, so it has no URL")
        return self.base_url

    def learn_base_url(self, scope: Scope) -> None:
        host = dict(scope["headers"]).get(b"host", b"").decode() or "127.0.0.1"
        self.base_url = f"{scope.get('scheme', 'http')}://{host}"

    def _build(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            await self.outbox.start()
            try:
                yield
            finally:
                await self.outbox.stop()

        async def on_api_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, ApiError)
            return self.error_response(exc)

        async def on_control_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, ControlError)
            return JSONResponse({"error": exc.message}, exc.status)

        common = [*self._common_control_routes(), *people.routes()]
        control = Mount(CONTROL_PREFIX, routes=[*common, *self.control_routes()])
        app = Starlette(
            routes=[*self.routes, control],
            middleware=[Middleware(SandboxMiddleware, sandbox=self)],
            exception_handlers={ApiError: on_api_error, ControlError: on_control_error},
            lifespan=lifespan,
        )
        app.state.sandbox = self
        return app

    # -- the common control API ----------------------------------------------------------------------
    def _common_control_routes(self) -> list[BaseRoute]:
        return [
            Route("/faults", self._faults_list, methods=["GET"]),
            Route("/faults", self._faults_add, methods=["POST"]),
            Route("/faults", self._faults_clear, methods=["DELETE"]),
            Route("/faults/{id:int}", self._faults_remove, methods=["DELETE"]),
            Route("/calls", self._calls_get, methods=["GET"]),
            Route("/calls", self._calls_clear, methods=["DELETE"]),
            Route("/deliveries", self._deliveries_list, methods=["GET"]),
            Route("/deliveries/{id:int}", self._delivery_get, methods=["GET"]),
            Route("/deliveries/{id:int}/redeliver", self._delivery_redeliver, methods=["POST"]),
            Route("/webhooks/config", self._webhooks_config, methods=["GET", "PUT"]),
            Route("/clock", self._clock, methods=["GET", "POST"]),
            Route("/oauth", self._oauth_get, methods=["GET"]),
            Route("/oauth/clients", self._oauth_client, methods=["POST"]),
            Route("/oauth/consent", self._oauth_consent, methods=["PUT"]),
            Route("/oauth/revoke", self._oauth_revoke, methods=["POST"]),
            Route("/oauth/expire", self._oauth_expire, methods=["POST"]),
            Route("/oauth/introspect", self._oauth_introspect, methods=["POST"]),
            Route("/state", self._state, methods=["GET"]),
        ]

    async def _faults_list(self, request: Request) -> Response:
        return JSONResponse({"faults": [f.to_json() for f in self.faults.list()]})

    async def _faults_add(self, request: Request) -> Response:
        data = await control_json(request)
        if data.get("kind") == "revoke":
            # A revoked grant is state, not a passing fault: it stays revoked after faults are cleared.
            revoked = self.oauth.revoke(opt(data, "token", str))
            return JSONResponse({"kind": "revoke", "revoked_grants": revoked}, 201)
        try:
            fault = self.faults.add(data)
        except FaultError as exc:
            raise ControlError(str(exc)) from None
        return JSONResponse(fault.to_json(), 201)

    async def _faults_clear(self, request: Request) -> Response:
        self.faults.clear()
        return JSONResponse({"faults": []})

    async def _faults_remove(self, request: Request) -> Response:
        if not self.faults.remove(request.path_params["id"]):
            raise ControlError("no such fault", 404)
        return Response(status_code=204)

    async def _calls_get(self, request: Request) -> Response:
        try:
            limit = int(request.query_params.get("limit", "200"))
        except ValueError:
            raise ControlError("`limit` must be an integer") from None
        return JSONResponse(self.calls.snapshot(limit))

    async def _calls_clear(self, request: Request) -> Response:
        self.calls.clear()
        return Response(status_code=204)

    async def _deliveries_list(self, request: Request) -> Response:
        event, status = request.query_params.get("event"), request.query_params.get("status")
        items = [
            d.to_json()
            for d in self.outbox.list()
            if (event is None or d.event == event) and (status is None or d.status == status)
        ]
        return JSONResponse({"deliveries": items})

    async def _delivery_get(self, request: Request) -> Response:
        try:
            wait = float(request.query_params.get("wait", "0"))
        except ValueError:
            raise ControlError("`wait` must be a number of seconds") from None
        delivery = await self.outbox.wait(request.path_params["id"], min(wait, 60.0))
        if delivery is None:
            raise ControlError("no such delivery", 404)
        return JSONResponse(delivery.to_json())

    async def _delivery_redeliver(self, request: Request) -> Response:
        delivery = self.outbox.redeliver(request.path_params["id"])
        if delivery is None:
            raise ControlError("no such delivery", 404)
        return JSONResponse(delivery.to_json(), 202)

    async def _webhooks_config(self, request: Request) -> Response:
        if request.method == "PUT":
            data = await control_json(request)
            if "rewrite_to" in data:
                self.outbox.rewrite_to = opt(data, "rewrite_to", str)
            if "retries" in data:
                retries = req(data, "retries", int)
                if retries < 0:
                    raise ControlError("`retries` must be >= 0")
                self.outbox.retries = retries
            if "retry_delay" in data:
                self.outbox.retry_delay = float(req(data, "retry_delay", (int, float)))
        return JSONResponse(
            {
                "rewrite_to": self.outbox.rewrite_to,
                "retries": self.outbox.retries,
                "retry_delay": self.outbox.retry_delay,
            }
        )

    async def _clock(self, request: Request) -> Response:
        if request.method == "POST":
            data = await control_json(request)
            self.clock.advance(float(req(data, "advance", (int, float))))
        return JSONResponse({"now": self.clock.time(), "offset": self.clock.offset})

    async def _oauth_get(self, request: Request) -> Response:
        return JSONResponse(self.oauth.snapshot())

    async def _oauth_client(self, request: Request) -> Response:
        data = await control_json(request)
        mode = opt(data, "mode", str) or next(iter(self.oauth.policies))
        uris = opt(data, "redirect_uris", list) or []
        try:
            client = self.oauth.add_client(
                req(data, "client_id", str), req(data, "client_secret", str), mode, uris
            )
        except OAuthError as exc:
            raise ControlError(exc.description) from None
        return JSONResponse({"client_id": client.client_id, "mode": client.policy}, 201)

    async def _oauth_consent(self, request: Request) -> Response:
        data = await control_json(request)
        if "user" in data:
            user = req(data, "user", str)
            if not self.knows_user(user):
                raise ControlError(f"unknown user {user!r}; create it first")
            self.oauth.consent_user = user
        if "deny" in data:
            self.oauth.deny = bool(req(data, "deny", bool))
        return JSONResponse({"user": self.oauth.consent_user, "deny": self.oauth.deny})

    async def _oauth_revoke(self, request: Request) -> Response:
        data = await control_json(request)
        return JSONResponse({"revoked_grants": self.oauth.revoke(opt(data, "token", str))})

    async def _oauth_expire(self, request: Request) -> Response:
        data = await control_json(request)
        return JSONResponse({"expired_tokens": self.oauth.expire(opt(data, "token", str))})

    async def _oauth_introspect(self, request: Request) -> Response:
        """Whether an access token still works (RFC 7662's `active`), e.g. after a revocation."""
        data = await control_json(request)
        return JSONResponse({"active": self.oauth.authenticate(req(data, "token", str)) is not None})

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.snapshot())

    def knows_user(self, user: str) -> bool:
        return True

    def operation_name(self, path: str, body: bytes) -> str | None:
        """The name of the operation a request to `path` with `body` runs (asked only when
        `names_from_body`); None: the route's name stands."""
        return None
