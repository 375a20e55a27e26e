"""GitLab's HTTP face: OAuth under /oauth, REST under /api/v4, and the one GraphQL query Conduit asks
(an issue by global id, to follow a moved issue) under /api/graphql.

A project in a path is its numeric id or its full path URL-encoded as ONE segment (`acme%2Fwidgets`):
the segment is read from the raw path, so an unencoded `acme/widgets` is a 404 as on GitLab.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from conduit.connectors.gitlab.sandbox.model import Issue, Project, User
from conduit.connectors.gitlab.sandbox.pages import paginate
from conduit.connectors.gitlab.sandbox.sandbox import GitLabSandbox
from conduit.connectors.sandbox.core import ApiError, bearer, read_form
from conduit.connectors.sandbox.oauth import OAuthError
from conduit.connectors.sandbox.state import parse_time

Handler = Callable[[Request, GitLabSandbox, User], Awaitable[Response]]
# Doorkeeper's error codes; a bad client is a 401, the rest 400.
OAUTH_ERRORS = {
    "client": "invalid_client",
    "redirect_uri": "invalid_grant",
    "code": "invalid_grant",
    "refresh": "invalid_grant",
    "grant_type": "unsupported_grant_type",
    "request": "invalid_request",
    "scope": "invalid_scope",
}
SCOPES = frozenset(
    {"api", "read_api", "read_user", "read_repository", "write_repository", "openid", "profile"}
)
GID = re.compile(r"gid://gitlab/Issue/([0-9]+)")


def sandbox_of(request: Request) -> GitLabSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, GitLabSandbox)
    return sandbox


# -- OAuth --------------------------------------------------------------------------------------------
async def authorize(request: Request) -> Response:
    sb = sandbox_of(request)
    params = dict(request.query_params)
    if params.get("response_type") != "code":
        return JSONResponse({"error": "unsupported_response_type"}, 400)
    unknown = [s for s in params.get("scope", "").split() if s not in SCOPES]
    try:
        location = sb.oauth.authorize(params)
    except OAuthError as exc:
        return JSONResponse({"error": OAUTH_ERRORS[exc.kind], "error_description": exc.description}, 400)
    if unknown and "code=" in location:
        redirect = params.get("redirect_uri") or location.split("?", 1)[0]
        sep = "&" if "?" in redirect else "?"
        location = f"{redirect}{sep}error=invalid_scope&state={params.get('state', '')}"
    return RedirectResponse(location, 302)


async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    form = await read_form(request)
    try:
        client, reply = sb.oauth.token(form)
    except OAuthError as exc:
        status = 401 if exc.kind == "client" else 400
        return JSONResponse({"error": OAUTH_ERRORS[exc.kind], "error_description": exc.description}, status)
    if form.get("grant_type") == "refresh_token":
        # A refresh ends the access token it replaces, not only the refresh token it used.
        fresh = sb.oauth.access[reply["access_token"]]
        for other in list(sb.oauth.access.values()):
            if other.grant is fresh.grant and other.value != fresh.value:
                other.expires_at = sb.clock.time()
    reply = reply | {"token_type": "Bearer", "created_at": int(sb.clock.time())}
    reply.pop("refresh_token_expires_in", None)
    if client.policy == "legacy":
        reply.pop("expires_in", None)
    return JSONResponse(reply)


async def revoke(request: Request) -> Response:
    """RFC 7009: 200 whether or not the token was known; the client must authenticate."""
    sb = sandbox_of(request)
    form = await read_form(request)
    client = sb.oauth.clients.get(form.get("client_id", ""))
    if client is None or client.client_secret != form.get("client_secret"):
        return JSONResponse(
            {"error": "invalid_client", "error_description": "Client authentication failed."}, 401
        )
    if form.get("token"):
        sb.oauth.revoke(form["token"])
    return JSONResponse({})


# -- REST plumbing ------------------------------------------------------------------------------------
def rest(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authentication, rate-limit headers on every answer, ETag / If-None-Match for GETs."""

    async def endpoint(request: Request) -> Response:
        sb = sandbox_of(request)
        user: User | None = None
        try:
            user = _authenticate(request, sb)
            used = sb.budget(user.id, consume=False)
            if used["ratelimit-remaining"] == "0":
                headers = used | {
                    "retry-after": str(max(int(used["ratelimit-reset"]) - int(sb.clock.time()), 1))
                }
                return PlainTextResponse("Retry later\n", 429, headers=headers)
            response = await handler(request, sb, user)
        except ApiError as exc:
            response = sb.error_response(exc)
        if user is None:
            return response
        response.headers.update(sb.budget(user.id, consume=True))
        if request.method == "GET" and response.status_code == 200:
            etag = 'W/"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
            response.headers["etag"] = etag
            wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
            if etag in wanted:
                not_modified = Response(status_code=304, headers={"etag": etag})
                not_modified.headers.update(
                    {k: v for k, v in response.headers.items() if k.startswith("ratelimit")}
                )
                return not_modified
        return response

    return endpoint


def _authenticate(request: Request, sb: GitLabSandbox) -> User:
    value = bearer(request)
    if value is None:
        raise ApiError(401, "401 Unauthorized")
    grant = sb.oauth.authenticate(value)
    if grant is None:
        known = sb.oauth.access.get(value)
        if known is not None and not known.grant.revoked:
            reason = "Token is expired. You can either do re-authorization or token refresh."
        else:
            reason = "Token was revoked. You have to re-authorize from the user."
        challenge = (
            f'Bearer realm="Protected by OAuth 2.0", error="invalid_token", error_description="{reason}"'
        )
        raise ApiError(
            401,
            reason,
            errors={"error": "invalid_token", "error_description": reason},
            headers={"www-authenticate": challenge},
        )
    user = sb.find_user(grant.user)
    if user is None:
        raise ApiError(401, "401 Unauthorized")
    return user


async def body_of(request: Request) -> dict[str, Any]:
    """JSON, or a form: GitLab's API takes either."""
    raw = await request.body()
    if not raw:
        return {}
    if "json" in request.headers.get("content-type", "json"):
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError(
                400,
                "400 Bad request",
                errors={"error": "The provided content-type 'application/json' is not supported."},
            ) from None
        if not isinstance(data, dict):
            raise ApiError(400, "400 Bad request", errors={"error": "Request body is not a JSON object"})
        return data
    return dict(parse_qsl(raw.decode(errors="replace")))


def missing(name: str) -> ApiError:
    """Grape's answer for a required parameter that was not sent."""
    return ApiError(400, f"{name} is missing", errors={"error": f"{name} is missing"})


def invalid(field: str, message: str) -> ApiError:
    """ActiveRecord's validation errors, under `message`."""
    return ApiError(400, "400 Bad request", errors={"message": {field: [message]}})


def project_of(request: Request, sb: GitLabSandbox) -> Project:
    raw = request.scope.get("raw_path", b"").decode("latin-1")
    _, _, rest_of_path = raw.partition("/api/v4/projects/")
    return sb.project_for(unquote(rest_of_path.split("/", 1)[0]))


def _ids(value: Any) -> list[int]:
    """`assignee_ids`: a list of ids; 0, an empty list or null unassigns everyone."""
    if value in (None, "", 0, "0"):
        return []
    values = value if isinstance(value, list) else str(value).split(",")
    try:
        ids = [int(v) for v in values]
    except (TypeError, ValueError):
        raise ApiError(400, "assignee_ids is invalid", errors={"error": "assignee_ids is invalid"}) from None
    return [i for i in ids if i != 0]


def _labels(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if str(v)]
    return [n.strip() for n in str(value or "").split(",") if n.strip()]


# -- REST endpoints -----------------------------------------------------------------------------------
async def get_user(request: Request, sb: GitLabSandbox, user: User) -> Response:
    return JSONResponse(sb.render.me(user.id))


async def list_users(request: Request, sb: GitLabSandbox, user: User) -> Response:
    """`search` matches a username or name (part of it) or an email (whole): a public one, or any for
    an administrator's token; `username` matches exactly."""
    q = request.query_params
    term = (q.get("search") or "").strip().lower()
    username = q.get("username")

    def hit(u: User) -> bool:
        if username is not None:
            return u.username.lower() == username.lower()
        if not term:
            return True
        email_shown = u.public_email or user.admin
        return (
            term in u.username.lower() or term in u.name.lower() or (email_shown and term == u.email.lower())
        )

    with sb.lock:
        found = sorted((u for u in sb.users.values() if hit(u)), key=lambda u: u.id)
        page, headers = paginate(request, found)
        return JSONResponse([sb.render.user(u.id) for u in page], headers=headers)


async def get_project(request: Request, sb: GitLabSandbox, user: User) -> Response:
    with sb.lock:
        return JSONResponse(sb.render.project(project_of(request, sb)))


async def create_issue(request: Request, sb: GitLabSandbox, user: User) -> Response:
    data = await body_of(request)
    with sb.lock:
        project = project_of(request, sb)
        title = data.get("title")
        if title is None:
            raise missing("title")
        if not isinstance(title, str) or not title.strip():
            raise invalid("title", "can't be blank")
        if len(title) > 255:
            raise invalid("title", "is too long (maximum is 255 characters)")
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            raise ApiError(400, "description is invalid", errors={"error": "description is invalid"})
        issue = sb.create_issue(
            project, user.id, title, description, _ids(data.get("assignee_ids")), _labels(data.get("labels"))
        )
        return JSONResponse(sb.render.issue(issue), 201)


async def get_issue(request: Request, sb: GitLabSandbox, user: User) -> Response:
    with sb.lock:
        project = project_of(request, sb)
        return JSONResponse(sb.render.issue(sb.issue_for(project, request.path_params["iid"])))


async def update_issue(request: Request, sb: GitLabSandbox, user: User) -> Response:
    data = await body_of(request)
    changes: dict[str, Any] = {}
    if "title" in data:
        if not isinstance(data["title"], str) or not data["title"].strip():
            raise invalid("title", "can't be blank")
        changes["title"] = data["title"]
    if "description" in data:
        changes["description"] = data["description"]
    if "state_event" in data:
        if data["state_event"] not in ("close", "reopen"):
            raise ApiError(400, "invalid", errors={"error": "state_event does not have a valid value"})
        changes["state_event"] = data["state_event"]
    if "assignee_ids" in data:
        changes["assignee_ids"] = _ids(data["assignee_ids"])
    elif "assignee_id" in data:
        changes["assignee_ids"] = _ids(data["assignee_id"])
    if "labels" in data:
        changes["labels"] = _labels(data["labels"])
    if not changes:
        message = (
            "title, description, state_event, assignee_ids, labels are missing, "
            "at least one parameter must be provided"
        )
        raise ApiError(400, message, errors={"error": message})
    with sb.lock:
        project = project_of(request, sb)
        issue = sb.update_issue(project, sb.issue_for(project, request.path_params["iid"]), user.id, changes)
        return JSONResponse(sb.render.issue(issue))


async def delete_issue(request: Request, sb: GitLabSandbox, user: User) -> Response:
    with sb.lock:
        project = project_of(request, sb)
        sb.delete_issue(sb.issue_for(project, request.path_params["iid"]))
        return Response(status_code=204)


async def move_issue(request: Request, sb: GitLabSandbox, user: User) -> Response:
    data = await body_of(request)
    target_ref = data.get("to_project_id")
    if target_ref is None:
        raise missing("to_project_id")
    with sb.lock:
        project = project_of(request, sb)
        issue = sb.issue_for(project, request.path_params["iid"])
        moved = sb.move_issue(project, issue, sb.project_for(str(target_ref)), user.id)
        return JSONResponse(sb.render.issue(moved), 201)


def _time_param(request: Request, name: str) -> Any:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise ApiError(400, f"{name} is invalid", errors={"error": f"{name} is invalid"}) from None


async def list_issues(request: Request, sb: GitLabSandbox, user: User) -> Response:
    q = request.query_params
    state = q.get("state", "all")
    if state not in ("opened", "closed", "all"):
        raise ApiError(
            400, "state does not have a valid value", errors={"error": "state does not have a valid value"}
        )
    order_by = q.get("order_by", "created_at")
    if order_by not in ("created_at", "updated_at", "title", "priority", "due_date", "relative_position"):
        raise ApiError(
            400,
            "order_by does not have a valid value",
            errors={"error": "order_by does not have a valid value"},
        )
    after, before = _time_param(request, "updated_after"), _time_param(request, "updated_before")
    try:
        iids = {int(v) for v in q.getlist("iids[]")}
    except ValueError:
        raise ApiError(400, "iids is invalid", errors={"error": "iids is invalid"}) from None
    words = (q.get("search") or "").lower().split()
    assignee = q.get("assignee_id")

    def keep(i: Issue) -> bool:
        text = f"{i.title}\n{i.description or ''}".lower()
        return (
            (state == "all" or i.state == state)
            and (not iids or i.iid in iids)
            and (after is None or i.updated_at >= after)
            and (before is None or i.updated_at <= before)
            and all(w in text for w in words)
            and (
                assignee is None
                or (assignee == "None" and not i.assignees)
                or (assignee.isdigit() and int(assignee) in i.assignees)
            )
        )

    with sb.lock:
        project = project_of(request, sb)
        items = [i for i in sb.issues.values() if i.project_id == project.id and not i.deleted and keep(i)]
        field = "updated_at" if order_by == "updated_at" else "created_at" if order_by != "title" else "title"
        items.sort(key=lambda i: (getattr(i, field), i.id), reverse=q.get("sort", "desc") != "asc")
        page, headers = paginate(request, items)
        return JSONResponse([sb.render.issue(i) for i in page], headers=headers)


async def list_notes(request: Request, sb: GitLabSandbox, user: User) -> Response:
    """Newest first unless `sort=asc`; system notes ("closed", "assigned to") are among them."""
    with sb.lock:
        project = project_of(request, sb)
        issue = sb.issue_for(project, request.path_params["iid"])
        notes = sorted(
            issue.notes,
            key=lambda n: (n.created_at, n.id),
            reverse=request.query_params.get("sort", "desc") != "asc",
        )
        page, headers = paginate(request, notes)
        return JSONResponse([sb.render.note(issue, n) for n in page], headers=headers)


async def create_note(request: Request, sb: GitLabSandbox, user: User) -> Response:
    data = await body_of(request)
    body = data.get("body")
    if body is None:
        raise missing("body")
    if not isinstance(body, str) or not body.strip():
        raise invalid("note", "can't be blank")
    with sb.lock:
        project = project_of(request, sb)
        issue = sb.issue_for(project, request.path_params["iid"])
        note = sb.add_note(project, issue, user.id, body)
        return JSONResponse(sb.render.note(issue, note), 201)


async def list_hooks(request: Request, sb: GitLabSandbox, user: User) -> Response:
    with sb.lock:
        project = project_of(request, sb)
        hooks = [h for h in sb.hooks.values() if h.project_id == project.id]
        page, headers = paginate(request, hooks)
        return JSONResponse([sb.render.hook(h) for h in page], headers=headers)


async def create_hook(request: Request, sb: GitLabSandbox, user: User) -> Response:
    data = await body_of(request)
    url = data.get("url")
    if url is None:
        raise missing("url")
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise invalid("url", "is blocked: Only allowed schemes are http, https")
    with sb.lock:
        hook = sb.add_hook(project_of(request, sb), data)
        return JSONResponse(sb.render.hook(hook), 201)


async def one_hook(request: Request, sb: GitLabSandbox, user: User) -> Response:
    with sb.lock:
        project = project_of(request, sb)
        hook = sb.hooks.get(request.path_params["hook_id"])
        if hook is None or hook.project_id != project.id:
            raise ApiError(404, "404 Not found")
        if request.method == "DELETE":
            del sb.hooks[hook.id]
            return Response(status_code=204)
        return JSONResponse(sb.render.hook(hook))


async def graphql(request: Request, sb: GitLabSandbox, user: User) -> Response:
    """Only `issue(id: "gid://gitlab/Issue/N")`: the issue's iid, full reference and URL."""
    data = await body_of(request)
    query = str(data.get("query") or "")
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
    if not re.search(r"\bissue\s*\(\s*id\s*:", query):
        return JSONResponse({"errors": [{"message": "The sandbox answers only issue(id:) queries"}]})
    found = GID.search(str((variables or {}).get("id") or "")) or GID.search(query)
    with sb.lock:
        issue = sb.issues.get(int(found.group(1))) if found else None
        if issue is None or issue.deleted:
            return JSONResponse({"data": {"issue": None}})
        project = sb.projects[issue.project_id]
        answer = {
            "iid": str(issue.iid),
            "reference": f"{project.path}#{issue.iid}",
            "webUrl": sb.render.issue_url(issue),
            "state": issue.state,
        }
        return JSONResponse({"data": {"issue": answer}})


def routes() -> list[BaseRoute]:
    project = "/projects/{project:path}"
    issue = project + "/issues/{iid:int}"
    return [
        Mount(
            "/oauth",
            routes=[
                Route("/authorize", authorize, methods=["GET"], name="oauth.authorize"),
                Route("/token", token, methods=["POST"], name="oauth.token"),
                Route("/revoke", revoke, methods=["POST"], name="oauth.revoke"),
            ],
        ),
        Route("/api/graphql", rest(graphql), methods=["POST"], name="graphql"),
        Mount(
            "/api/v4",
            routes=[
                Route("/user", rest(get_user), methods=["GET"], name="user.get"),
                Route("/users", rest(list_users), methods=["GET"], name="users.list"),
                Route(issue + "/notes", rest(list_notes), methods=["GET"], name="notes.list"),
                Route(issue + "/notes", rest(create_note), methods=["POST"], name="notes.create"),
                Route(issue + "/move", rest(move_issue), methods=["POST"], name="issues.move"),
                Route(issue, rest(get_issue), methods=["GET"], name="issues.get"),
                Route(issue, rest(update_issue), methods=["PUT"], name="issues.update"),
                Route(issue, rest(delete_issue), methods=["DELETE"], name="issues.delete"),
                Route(project + "/issues", rest(list_issues), methods=["GET"], name="issues.list"),
                Route(project + "/issues", rest(create_issue), methods=["POST"], name="issues.create"),
                Route(project + "/hooks/{hook_id:int}", rest(one_hook), methods=["GET"], name="hooks.get"),
                Route(
                    project + "/hooks/{hook_id:int}", rest(one_hook), methods=["DELETE"], name="hooks.delete"
                ),
                Route(project + "/hooks", rest(list_hooks), methods=["GET"], name="hooks.list"),
                Route(project + "/hooks", rest(create_hook), methods=["POST"], name="hooks.create"),
                Route(project, rest(get_project), methods=["GET"], name="projects.get"),
            ],
        ),
    ]
