"""The `/graphql` endpoint: GraphQL over HTTP, with authentication and request hygiene in front.

Decisions a client can rely on:

- **POST only.** Operations are accepted as `POST` with `Content-Type: application/json`. Queries over
  `GET` are refused with 405: a GET (like a `text/plain` or form POST, refused with 415) is a "simple"
  request a browser sends cross-site without a CORS preflight, and nothing here needs HTTP caching of
  GETs. A `GET` asking for HTML gets GraphiQL outside production, its files served
  from this process (conduit.schema.ide).
- **Content negotiation.** When `Accept` prefers `application/graphql-response+json` the response uses
  it with the GraphQL-over-HTTP status codes: 400 for every request error — a document that does not
  parse or validate, an operation that cannot be determined (several operations and no
  `operationName`, or an unknown one), variables that do not coerce, a cost over the limit — and 200
  once execution started (even with errors and partial data). With `application/json` or no `Accept`,
  every GraphQL response is 200, as the spec allows for legacy clients.
- **Rejected before GraphQL runs**, with a GraphQL-shaped body (`{"errors": [{"message", "extensions":
  {"code"}}]}`): 405 wrong method, 415 wrong content type, 413 body over `MAX_BODY_BYTES` (declared in
  `Content-Length` or counted while reading), 408 body not received within `body_timeout`, 401 missing
  or bad token (also for introspection and `_service`), 429 a caller over its per-minute quota (with
  `Retry-After`, conduit.quotas), 400 body that is not a JSON object with a string
  `query` and well-typed `variables`, `operationName` and `extensions`. A client that hangs up mid-body
  is answered quietly: nobody is left to read it, and it is not a server error.
- **Cost and time.** An operation over the static cost limit is refused before it runs
  (`QUERY_TOO_COSTLY`, conduit.schema.cost). One that runs longer than `timeout` seconds is cancelled
  and answered with a single `TIMEOUT` error and no data: 503 with graphql-response+json, 200 with
  JSON. Running operations yield the event loop often (conduit.schema.guards.YieldToLoop), so neither
  other requests nor the cancellation wait for a large answer to be built. Over the WebSocket the cost
  limit and the yielding apply as well; the time budget does not, as subscriptions live on purpose.
- **Subscriptions** use `graphql-transport-ws` only; the legacy `graphql-ws` protocol is off. Browsers
  cannot set headers on a WebSocket, so the token may come in the `connection_init` payload as
  `{"authorization": "Bearer <token>"}` instead of the `Authorization` header; without either the
  connection is closed with 4401 once `connection_init` arrives.
- **The console's session cookie** authenticates a request that sends no `Authorization` (see
  conduit.auth.sessions): a POST must also send `X-Conduit-CSRF` and, when it states one, an `Origin`
  (or `Referer`) of this server, else 403 `FORBIDDEN`; a WebSocket must come from this server's `Origin`
  (closed with 4403 otherwise) and may then send an empty `connection_init`. Bearer tokens are unaffected.
- **An app's requests are counted** for its owner's partner analytics (conduit.apps.analytics): each
  HTTP request made with an app's access token that passed authentication and the quota, as failed when
  it was refused, stopped or answered with any error. Subscriptions are not counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Any, cast

import orjson
from graphql import GraphQLError
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http.ides import GraphQL_IDE
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from conduit import request_body
from conduit.apps import analytics
from conduit.auth.sessions import COOKIE_NAME as SESSION_COOKIE
from conduit.quotas import quotas_of
from conduit.request_body import BodyError, BodyTimeout, BodyTooLarge, ClientGone
from conduit.runtime import Runtime
from conduit.schema import ide
from conduit.schema.context import Context, CrossSiteRefused, Unauthenticated, build_context

log = logging.getLogger("conduit.graphql")

MAX_BODY_BYTES = 1024 * 1024
# Defaults of the view; the app passes Settings.graphql_timeout and Settings.http_body_timeout.
DEFAULT_TIMEOUT = 15.0
DEFAULT_BODY_TIMEOUT = request_body.DEFAULT_TIMEOUT
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# Status codes when the client understands them: a request error (no execution), an operation stopped
# by the time budget.
REQUEST_ERROR_STATUS = 400
TIMEOUT_STATUS = 503
TIMEOUT = "TIMEOUT"
UNKNOWN_OPERATION = "UNKNOWN_OPERATION"
HTTP_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
# How long a WebSocket may stay open without sending `connection_init` (and so without a token).
CONNECTION_INIT_TIMEOUT = timedelta(seconds=10)

ContextBuilder = Callable[[HTTPConnection], Awaitable[Context]]
# Raises `Rejected` (429) for a caller over its quota.
QuotaCheck = Callable[[Context], Awaitable[None]]
# Told of every request that got past authentication and the quota, and whether it failed.
Outcome = Callable[[Context, bool], Awaitable[None]]


class Rejected(Exception):
    """A request refused before GraphQL runs; becomes a GraphQL-shaped error response."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class PendingAuth:
    """The context of a WebSocket that has not authenticated yet: it will, in `connection_init`."""

    def __init__(self, request: HTTPConnection) -> None:
        self.request = request


def _with_authorization(connection: HTTPConnection, value: str) -> HTTPConnection:
    headers = [(k, v) for k, v in connection.scope["headers"] if k.lower() != b"authorization"]
    headers.append((b"authorization", value.encode("latin-1", errors="replace")))
    return HTTPConnection({**connection.scope, "headers": headers})


class AuthOnInitHandler(BaseGraphQLTransportWSHandler[Any, None]):
    """graphql-transport-ws, taking the token from the `connection_init` payload when needed."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if isinstance(self.context, PendingAuth) and not self.connection_init_received:
            payload = message.get("payload") or {}
            value = payload.get("authorization") if isinstance(payload, dict) else None
            request = self.context.request
            has_token = isinstance(value, str) and bool(value.strip())
            if not has_token and not request.cookies.get(SESSION_COOKIE):
                await self.websocket.close(
                    4401, 'send the token in connection_init: {"authorization": "Bearer <token>"}'
                )
                return
            view = cast(ConduitGraphQL, self.view)
            try:
                # A token given in the payload wins over a session cookie the browser sent along.
                self.context = await view.build_context(
                    _with_authorization(request, cast(str, value)) if has_token else request
                )
            except Unauthenticated as exc:
                await self.websocket.close(4401, str(exc))
                return
            except CrossSiteRefused as exc:
                await self.websocket.close(4403, str(exc))
                return
        await super().handle_connection_init(message)


class ConduitGraphQL(GraphQL[Context, None]):
    """strawberry's ASGI view, with Conduit's HTTP handling; websockets are left to strawberry."""

    def __init__(
        self,
        schema: BaseSchema,
        build_context: ContextBuilder,
        *,
        graphql_ide: GraphQL_IDE | None,
        max_body_bytes: int = MAX_BODY_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        quota: QuotaCheck | None = None,
        outcome: Outcome | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=graphql_ide,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=CONNECTION_INIT_TIMEOUT,
        )
        self.build_context = build_context
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout
        self.body_timeout = body_timeout
        self.quota = quota
        self.outcome = outcome

    graphql_transport_ws_handler_class = AuthOnInitHandler

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        if isinstance(request, WebSocket) and not request.headers.get("authorization"):
            return cast(Context, PendingAuth(request))
        return await self.build_context(request)

    def encode_json(self, data: object) -> str:
        # Used for WebSocket messages, which graphql-transport-ws requires to be text frames.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            websocket = WebSocket(scope, receive=receive, send=send)
            try:
                await self.run(websocket)
            except Unauthenticated as exc:
                await websocket.close(code=4401, reason=str(exc))
            except CrossSiteRefused as exc:
                await websocket.close(code=4403, reason=str(exc))
            return
        request = Request(scope, receive=receive)
        media_type = negotiate(request.headers.get("accept"))
        try:
            response = await self.handle(request, media_type)
        except Rejected as exc:
            response = error_response(exc.status, exc.code, exc.message, media_type, exc.headers)
        await response(scope, receive, send)

    async def handle(self, request: Request, media_type: str) -> Response:
        if request.method == "GET" and self.graphql_ide and self._wants_ide(request):
            return await self.render_graphql_ide(request)
        if request.method != "POST":
            raise Rejected(
                405,
                "METHOD_NOT_ALLOWED",
                "GraphQL operations are accepted only as POST with Content-Type: application/json",
                {"Allow": "POST"},
            )
        check_content_type(request.headers.get("content-type"))
        # The declared length is checked before anything else, so 10 GB announced is refused at once.
        # Authentication comes before reading: a refused token costs no body, and authenticating holds
        # no database connection while the body arrives.
        with _body_errors():
            request_body.check_declared_length(request, self.max_body_bytes)
        context = await self._authenticate(request)
        if self.quota is not None:
            await self.quota(context)
        if self.outcome is None:
            return (await self._answer(request, context, media_type))[0]
        failed = True  # a body refused below (too large, not JSON) raises: a failed request too
        try:
            response, failed = await self._answer(request, context, media_type)
            return response
        finally:
            await self.outcome(context, failed)

    async def _answer(self, request: Request, context: Context, media_type: str) -> tuple[Response, bool]:
        """The response to an authenticated request, and whether it carries errors."""
        with _body_errors():
            body = await request_body.read_body(request, self.max_body_bytes, deadline=self.body_timeout)
        params = parse_params(body)
        try:
            async with asyncio.timeout(self.timeout):
                result = await self._execute(params, context)
        except TimeoutError:
            log.warning("operation %r stopped after %g s", params.operation_name or "(unnamed)", self.timeout)
            return timeout_response(self.timeout, media_type), True
        finally:
            # The answer is built: the query's shared read session (conduit.schema.reads) is done.
            if (reads := getattr(context, "reads", None)) is not None:
                await reads.close()
        return graphql_response(result, media_type), bool(result.errors)

    async def render_graphql_ide(self, request: Request) -> Response:
        return ide.render()

    def _wants_ide(self, request: Request) -> bool:
        accept = request.headers.get("accept", "")
        return "query" not in request.query_params and "text/html" in accept

    async def _authenticate(self, request: Request) -> Context:
        try:
            return await self.get_context(request, Response())
        except Unauthenticated as exc:
            challenge = 'Bearer realm="conduit"'
            if request.headers.get("authorization"):
                challenge += ', error="invalid_token"'
            raise Rejected(401, "UNAUTHENTICATED", str(exc), {"WWW-Authenticate": challenge}) from exc
        except CrossSiteRefused as exc:
            raise Rejected(403, "FORBIDDEN", str(exc)) from exc

    async def _execute(self, params: GraphQLParams, context: Context) -> ExecutionResult:
        try:
            return await self.schema.execute(
                params.query,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=HTTP_OPERATIONS,
                operation_extensions=params.extensions,
            )
        except MissingQueryError as exc:
            raise Rejected(400, "BAD_REQUEST", "`query` must be a non-empty GraphQL document") from exc
        except CannotGetOperationTypeError as exc:
            error = GraphQLError(exc.as_http_error_reason(), extensions={"code": UNKNOWN_OPERATION})
            return PreExecutionError(data=None, errors=[error])
        except InvalidOperationTypeError as exc:
            message = (
                "subscriptions are served over WebSocket (graphql-transport-ws), not over HTTP POST"
                if exc.operation_type == OperationType.SUBSCRIPTION
                else exc.as_http_error_reason("POST")
            )
            return PreExecutionError(data=None, errors=[GraphQLError(message)])


async def count_app_call(context: Context, failed: bool) -> None:
    """Partner analytics count the requests of an app's access tokens (conduit.apps.analytics)."""
    app_id = context.viewer.app_id
    if app_id is not None:
        await analytics.count_call(context.runtime, app_id, failed)


async def check_quota(context: Context) -> None:
    """Refuse a caller over its per-minute quota (CONDUIT_API_RATE_LIMIT) before its body is read."""
    viewer = context.viewer
    if viewer.token_id is not None:
        subject = f"token:{viewer.token_id}"
    elif viewer.app_installation_id is not None:
        subject = f"app-installation:{viewer.app_installation_id}"
    elif viewer.member_id is not None:
        subject = f"member:{viewer.member_id}"
    else:
        subject = f"organization:{viewer.organization_id}"
    decision = await quotas_of(context.runtime).api(subject)
    if not decision.allowed:
        seconds = decision.retry_after_seconds
        message = f"over the quota of {decision.limit} requests per minute; retry in {seconds} s"
        raise Rejected(429, "RATE_LIMITED", message, {"Retry-After": str(seconds)})


@contextmanager
def _body_errors() -> Iterator[None]:
    """A body that cannot be read, as the response saying why (413, 408, 400)."""
    try:
        yield
    except BodyError as exc:
        raise Rejected(exc.status, _BODY_ERROR_CODES.get(type(exc), "BAD_REQUEST"), exc.message) from None


_BODY_ERROR_CODES: dict[type[BodyError], str] = {
    BodyTooLarge: "PAYLOAD_TOO_LARGE",
    BodyTimeout: "REQUEST_TIMEOUT",
    # Sent to nobody (the server drops a response to a closed connection); what matters is that the
    # disconnect ends here as an answer, not as an unhandled exception in the ASGI log.
    ClientGone: "CLIENT_DISCONNECTED",
}


class GraphQLParams:
    __slots__ = ("extensions", "operation_name", "query", "variables")

    def __init__(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any] | None,
    ) -> None:
        self.query = query
        self.variables = variables
        self.operation_name = operation_name
        self.extensions = extensions


def check_content_type(header: str | None) -> None:
    media_type, _, params = (header or "").partition(";")
    charset = next(
        (
            value.strip().strip('"').lower()
            for key, _, value in (p.partition("=") for p in params.split(";"))
            if key.strip().lower() == "charset"
        ),
        "utf-8",
    )
    if media_type.strip().lower() != JSON or charset != "utf-8":
        got = f"got {header!r}" if header else "none was sent"
        raise Rejected(415, "UNSUPPORTED_MEDIA_TYPE", f"Content-Type must be application/json (utf-8); {got}")


def parse_params(body: bytes) -> GraphQLParams:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Rejected(400, "BAD_REQUEST", f"the request body is not valid JSON: {exc}") from exc
    if isinstance(data, list):
        raise Rejected(
            400, "BAD_REQUEST", "batched requests are not supported: send one operation per request"
        )
    if not isinstance(data, dict):
        raise Rejected(400, "BAD_REQUEST", "the request body must be a JSON object with a `query` string")
    query = data.get("query")
    if not isinstance(query, str):
        problem = "is missing" if query is None else f"must be a string, not {_json_type(query)}"
        raise Rejected(400, "BAD_REQUEST", f"`query` {problem}")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise Rejected(400, "BAD_REQUEST", f"`variables` must be an object, not {_json_type(variables)}")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise Rejected(
            400, "BAD_REQUEST", f"`operationName` must be a string, not {_json_type(operation_name)}"
        )
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise Rejected(400, "BAD_REQUEST", f"`extensions` must be an object, not {_json_type(extensions)}")
    return GraphQLParams(query, variables, operation_name, extensions)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def negotiate(accept: str | None) -> str:
    """The response media type: graphql-response+json when the client prefers it, else JSON."""
    if not accept:
        return JSON
    best_graphql = best_json = 0.0
    for item in accept.split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_type = media_type.lower()
        if media_type == GRAPHQL_RESPONSE_JSON:
            best_graphql = max(best_graphql, quality)
        elif media_type in (JSON, "application/*", "*/*"):
            best_json = max(best_json, quality)
    return GRAPHQL_RESPONSE_JSON if best_graphql > 0 and best_graphql >= best_json else JSON


def is_request_error(result: ExecutionResult) -> bool:
    """Whether the operation failed before execution started (so the response carries no `data`).

    Variable coercion happens inside graphql-core's execute and yields no data and errors without a
    path, as does the cost limit, while errors raised by field functions always carry one.
    """
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or ())


def graphql_response(result: ExecutionResult, media_type: str) -> Response:
    body: dict[str, Any] = {}
    status = 200
    if is_request_error(result):
        if media_type == GRAPHQL_RESPONSE_JSON:
            status = REQUEST_ERROR_STATUS
    else:
        body["data"] = result.data
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return _json_response(body, status, media_type)


def timeout_response(timeout: float, media_type: str) -> Response:
    """An operation stopped by the time budget: no data (none is complete), one error saying why."""
    error = {
        "message": f"the operation did not finish within {timeout:g} seconds and was stopped: "
        "ask for less (smaller pages, fewer nested lists) or split it",
        "extensions": {"code": TIMEOUT, "timeout": timeout},
    }
    status = TIMEOUT_STATUS if media_type == GRAPHQL_RESPONSE_JSON else 200
    return _json_response({"errors": [error]}, status, media_type)


def error_response(
    status: int, code: str, message: str, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return _json_response(body, status, media_type, headers)


def _json_response(
    body: object, status: int, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(
        orjson.dumps(body), status_code=status, media_type=f"{media_type}; charset=utf-8", headers=headers
    )
    # Responses depend on the token or the session: no shared cache may keep them.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept, Authorization, Cookie"
    return response


def routes(runtime: Runtime, schema: BaseSchema) -> list[BaseRoute]:
    """`/graphql` for HTTP and WebSocket, serving `schema`: built once by the caller, not per request."""
    settings = runtime.settings
    view = ConduitGraphQL(
        schema,
        partial(build_context, runtime),
        graphql_ide=None if settings.is_production else "graphiql",
        timeout=settings.graphql_timeout,
        body_timeout=settings.http_body_timeout,
        quota=check_quota,
        outcome=count_app_call,
    )
    graphql: list[BaseRoute] = [Route("/graphql", view), WebSocketRoute("/graphql", view)]
    return graphql if settings.is_production else [*ide.routes, *graphql]
