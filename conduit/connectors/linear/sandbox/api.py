"""Linear's HTTP face: OAuth under /oauth, the whole API as one GraphQL endpoint, /graphql.

`/graphql` answers as Linear does: a document that does not parse or validate is an HTTP 400 with a
`GRAPHQL_*` error; a refused token an HTTP 401 with `AUTHENTICATION_ERROR`; a spent budget an
HTTP 400 (or 200, see the rate-limit control) with `RATELIMITED`; an error while executing (an issue
that is not there, a missing scope) comes inside an HTTP 200 next to whatever data was resolved.
Every answer carries the `X-RateLimit-Requests-*` and complexity headers.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.connectors.linear.sandbox.sandbox import LinearSandbox, graphql_error
from conduit.connectors.linear.sandbox.schema import SCHEMA, Failure, complexity, root
from conduit.connectors.sandbox.core import bearer, read_form
from conduit.connectors.sandbox.oauth import OAuthError

OAUTH_ERRORS = {
    "client": (401, "invalid_client"),
    "redirect_uri": (400, "invalid_grant"),
    "code": (400, "invalid_grant"),
    "refresh": (400, "invalid_grant"),
    "grant_type": (400, "unsupported_grant_type"),
    "request": (400, "invalid_request"),
    "scope": (400, "invalid_scope"),
}
# Linear refuses a single query above this complexity, whatever the budget.
MAX_COMPLEXITY = 10_000
MAX_TOKENS = 20_000


def sandbox_of(request: Request) -> LinearSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, LinearSandbox)
    return sandbox


def oauth_error(exc: OAuthError) -> Response:
    status, code = OAUTH_ERRORS[exc.kind]
    return JSONResponse({"error": code, "error_description": exc.description}, status)


async def authorize(request: Request) -> Response:
    sb = sandbox_of(request)
    params = dict(request.query_params)
    if params.get("response_type") != "code":
        return JSONResponse(
            {"error": "unsupported_response_type", "error_description": "use response_type=code"}, 400
        )
    if params.get("actor") not in (None, "user", "app"):
        return JSONResponse(
            {"error": "invalid_request", "error_description": "actor must be user or app"}, 400
        )
    # Scopes are comma separated; `read` is always granted.
    scopes = [s.strip() for s in params.get("scope", "").split(",") if s.strip()]
    params["scope"] = ",".join(dict.fromkeys(["read", *scopes]))
    try:
        return RedirectResponse(sb.oauth.authorize(params), 302)
    except OAuthError as exc:
        return oauth_error(exc)


async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        _, reply = sb.oauth.token(await read_form(request))
    except OAuthError as exc:
        return oauth_error(exc)
    reply["token_type"] = "Bearer"
    reply["scope"] = " ".join(s for s in str(reply.get("scope", "")).split(",") if s)
    reply.pop("refresh_token_expires_in", None)
    return JSONResponse(reply)


async def revoke(request: Request) -> Response:
    """The token to revoke in the Authorization header or as `token`; the whole grant goes."""
    sb = sandbox_of(request)
    form = await read_form(request)
    value = form.get("token") or bearer(request)
    if not value:
        return JSONResponse({"error": "invalid_request", "error_description": "no token to revoke"}, 400)
    sb.oauth.revoke(value)
    return Response(status_code=200)


def _formatted(error: GraphQLError, fallback: tuple[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {**error.formatted}
    extensions = dict(body.get("extensions") or {})
    extensions.setdefault("type", fallback[0])
    extensions.setdefault("code", fallback[1])
    body["extensions"] = extensions
    return body


def _request_errors(errors: list[GraphQLError], code: str, headers: dict[str, str]) -> Response:
    body = {"errors": [_formatted(e, ("graphql error", code)) for e in errors]}
    return JSONResponse(body, 400, headers=headers)


async def graphql_endpoint(request: Request) -> Response:
    sb = sandbox_of(request)
    value = bearer(request)
    grant = sb.oauth.authenticate(value) if value else None
    if grant is None:
        body = graphql_error(
            "Authentication required, not authenticated",
            "authentication error",
            "AUTHENTICATION_ERROR",
            "You need to authenticate to access this operation.",
        )
        return JSONResponse(body, 401)
    if not sb.budget.take(sb.clock.time()):
        body = graphql_error(
            "Rate limit exceeded", "ratelimited", "RATELIMITED", "You have exceeded the API rate limit."
        )
        return JSONResponse(body, sb.budget.status, headers=sb.budget.headers())
    headers = sb.budget.headers()
    try:
        payload = json.loads(await request.body())
    except (ValueError, RecursionError):
        body = graphql_error("The request body is not JSON.", "graphql error", "BAD_USER_INPUT")
        return JSONResponse(body, 400, headers=headers)
    query = payload.get("query") if isinstance(payload, dict) else None
    variables = payload.get("variables") if isinstance(payload, dict) else None
    operation_name = payload.get("operationName") if isinstance(payload, dict) else None
    if not isinstance(query, str) or not query.strip():
        body = graphql_error("Must provide query string.", "graphql error", "BAD_USER_INPUT")
        return JSONResponse(body, 400, headers=headers)
    if variables is not None and not isinstance(variables, dict):
        body = graphql_error("Variables must be an object.", "graphql error", "BAD_USER_INPUT")
        return JSONResponse(body, 400, headers=headers)
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLSyntaxError as exc:
        return _request_errors([exc], "GRAPHQL_PARSE_FAILED", headers)
    except RecursionError:
        body = graphql_error("The query is nested too deeply.", "graphql error", "GRAPHQL_PARSE_FAILED")
        return JSONResponse(body, 400, headers=headers)
    problems = validate(SCHEMA, document)
    if problems:
        return _request_errors(problems, "GRAPHQL_VALIDATION_FAILED", headers)
    operation = get_operation_ast(document, operation_name if isinstance(operation_name, str) else None)
    if not isinstance(operation, OperationDefinitionNode):
        error = GraphQLError("Could not determine which operation to run.")
        return _request_errors([error], "GRAPHQL_VALIDATION_FAILED", headers)
    cost = complexity(document, operation, variables or {})
    headers = sb.budget.headers(cost)
    if cost > MAX_COMPLEXITY:
        body = graphql_error(
            f"Query too complex: {cost} > {MAX_COMPLEXITY}",
            "invalid input",
            "INPUT_ERROR",
            "The query is too complex; ask for smaller pages.",
        )
        return JSONResponse(body, 400, headers=headers)
    with sb.lock:
        result = execute_sync(
            SCHEMA,
            document,
            root_value=root(sb, grant),
            variable_values=variables,
            operation_name=operation.name.value if operation.name else None,
        )
    errors = list(result.errors or [])
    if errors and result.data is None and all(e.path is None for e in errors):
        # Variables that do not fit their types: refused before anything ran.
        return _request_errors(errors, "GRAPHQL_VALIDATION_FAILED", headers)
    unexpected = [e for e in errors if not isinstance(e.original_error, Failure)]
    answer: dict[str, Any] = {"data": result.data}
    if errors:
        answer["errors"] = [_formatted(e, ("internal error", "INTERNAL_SERVER_ERROR")) for e in errors]
    return JSONResponse(answer, 500 if unexpected else 200, headers=headers)


def routes() -> list[BaseRoute]:
    return [
        Route("/oauth/authorize", authorize, methods=["GET"], name="oauth.authorize"),
        Route("/oauth/token", token, methods=["POST"], name="oauth.token"),
        Route("/oauth/revoke", revoke, methods=["POST"], name="oauth.revoke"),
        Route("/graphql", graphql_endpoint, methods=["POST"], name="graphql"),
    ]
