"""GitHub's HTTP face: OAuth under /login/oauth, REST under /api/v3 (the GitHub Enterprise Server layout)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from conduit.connectors.github.sandbox.model import User
from conduit.connectors.github.sandbox.pages import paginate
from conduit.connectors.github.sandbox.sandbox import GitHubSandbox
from conduit.connectors.github.sandbox.search import matches_query, parse_query
from conduit.connectors.sandbox.core import ApiError, api_json, bearer, read_form
from conduit.connectors.sandbox.oauth import OAuthError
from conduit.connectors.sandbox.state import parse_time

Handler = Callable[[Request, GitHubSandbox, str], Awaitable[Response]]
OAUTH_ERRORS = {
    "client": "incorrect_client_credentials",
    "redirect_uri": "redirect_uri_mismatch",
    "code": "bad_verification_code",
    "refresh": "bad_refresh_token",
    "grant_type": "unsupported_grant_type",
    "request": "invalid_request",
    "scope": "invalid_scope",
}
API_VERSIONS = ("2022-11-28", "2026-03-10")


def sandbox_of(request: Request) -> GitHubSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, GitHubSandbox)
    return sandbox


# -- OAuth --------------------------------------------------------------------------------------------
async def authorize(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        return RedirectResponse(sb.oauth.authorize(dict(request.query_params)), 302)
    except OAuthError as exc:
        return JSONResponse({"error": OAUTH_ERRORS[exc.kind], "error_description": exc.description}, 400)


async def access_token(request: Request) -> Response:
    sb = sandbox_of(request)
    form = await read_form(request)
    try:
        _, reply = sb.oauth.token(form)
    except OAuthError as exc:
        # GitHub answers token errors with 200 and the error in the body.
        reply = {
            "error": OAUTH_ERRORS[exc.kind],
            "error_description": exc.description,
            "error_uri": "https://docs.github.com/apps/oauth-apps",
        }
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(reply)
    return Response(urlencode(reply), media_type="application/x-www-form-urlencoded; charset=utf-8")


# -- REST plumbing ------------------------------------------------------------------------------------
def rest(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authentication, rate-limit headers on every answer, ETag / If-None-Match for GETs."""

    async def endpoint(request: Request) -> Response:
        sb = sandbox_of(request)
        login: str | None = None
        limited = False
        try:
            version = request.headers.get("x-github-api-version")
            if version is not None and version not in API_VERSIONS:
                raise ApiError(400, f"API version {version} is not supported.")
            if version is None:
                sb.header_warnings["missing X-GitHub-Api-Version"] += 1
            if "json" not in request.headers.get("accept", "json") and "*/*" not in request.headers["accept"]:
                sb.header_warnings["Accept without json"] += 1
            token = bearer(request)
            if token is None:
                raise ApiError(401, "Requires authentication")
            grant = sb.oauth.authenticate(token)
            if grant is None:
                raise ApiError(401, "Bad credentials")
            login = grant.user
            if int(sb.budget(login, consume=False)["x-ratelimit-remaining"]) <= 0:
                user_id = sb.users[login].id if login in sb.users else 0
                limited = True
                raise ApiError(403, f"API rate limit exceeded for user ID {user_id}.")
            response = await handler(request, sb, login)
        except ApiError as exc:
            response = sb.error_response(exc)
        if login is None:
            return response
        if request.method == "GET" and response.status_code == 200:
            etag = 'W/"' + hashlib.sha256(bytes(response.body)).hexdigest()[:40] + '"'
            response.headers["etag"] = etag
            wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
            if etag in wanted or "*" in wanted:
                # A 304 is free: it does not count against the rate limit.
                not_modified = Response(status_code=304, headers={"etag": etag})
                not_modified.headers.update(sb.budget(login, consume=False))
                return not_modified
        response.headers.update(sb.budget(login, consume=not limited))
        return response

    return endpoint


async def body_object(request: Request) -> dict[str, Any]:
    data = await api_json(request, "Problems parsing JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "Problems parsing JSON")
    return data


def invalid(resource: str, field: str, code: str = "invalid") -> ApiError:
    return ApiError(422, "Validation Failed", errors=[{"resource": resource, "field": field, "code": code}])


def string_list(data: dict[str, Any], key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid("Issue", key)
    return value


def full_name(request: Request) -> str:
    return f"{request.path_params['owner']}/{request.path_params['repo']}"


# -- REST endpoints -----------------------------------------------------------------------------------
async def get_user(request: Request, sb: GitHubSandbox, login: str) -> Response:
    return JSONResponse(sb.render.user(login, full=True))


async def get_rate_limit(request: Request, sb: GitHubSandbox, login: str) -> Response:
    headers = sb.budget(login, consume=False)
    core = {k.removeprefix("x-ratelimit-"): int(v) for k, v in headers.items() if k != "x-ratelimit-resource"}
    return JSONResponse({"resources": {"core": core}, "rate": core})


async def get_repo(request: Request, sb: GitHubSandbox, login: str) -> Response:
    with sb.lock:
        return JSONResponse(sb.render.repo(sb.repo_for(full_name(request), login)))


async def create_issue(request: Request, sb: GitHubSandbox, login: str) -> Response:
    data = await body_object(request)
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        title = data.get("title")
        if title is None or title == "":
            raise invalid("Issue", "title", "missing_field")
        if not isinstance(title, str | int):
            raise invalid("Issue", "title")
        body = data.get("body")
        if body is not None and not isinstance(body, str):
            raise invalid("Issue", "body")
        issue = sb.create_issue(
            repo, login, str(title), body, string_list(data, "assignees"), string_list(data, "labels")
        )
        return JSONResponse(sb.render.issue(issue), 201, headers={"location": sb.render.issue(issue)["url"]})


async def get_issue_by_repository_id(request: Request, sb: GitHubSandbox, login: str) -> Response:
    """`/repositories/{id}/issues/{number}`: where a transferred issue's old URL points."""
    with sb.lock:
        wanted = request.path_params["repository_id"]
        repo = next((r for r in sb.repos.values() if r.id == wanted and r.visible_to(login)), None)
        if repo is None:
            raise ApiError(404, "Not Found")
        return JSONResponse(sb.render.issue(sb.issue_for(repo, request.path_params["number"])))


async def get_issue(request: Request, sb: GitHubSandbox, login: str) -> Response:
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        return JSONResponse(sb.render.issue(sb.issue_for(repo, request.path_params["number"])))


async def update_issue(request: Request, sb: GitHubSandbox, login: str) -> Response:
    data = await body_object(request)
    changes: dict[str, Any] = {}
    if "title" in data:
        if not isinstance(data["title"], str) or not data["title"]:
            raise invalid("Issue", "title")
        changes["title"] = data["title"]
    if "body" in data:
        if data["body"] is not None and not isinstance(data["body"], str):
            raise invalid("Issue", "body")
        changes["body"] = data["body"]
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise invalid("Issue", "state")
        changes["state"] = data["state"]
    if data.get("state_reason") is not None:
        if data["state_reason"] not in ("completed", "not_planned", "reopened", "duplicate"):
            raise invalid("Issue", "state_reason")
        changes["state_reason"] = data["state_reason"]
    if "assignee" in data and "assignees" not in data:
        changes["assignees"] = [data["assignee"]] if data["assignee"] else []
    for key in ("assignees", "labels"):
        values = string_list(data, key)
        if values is not None:
            changes[key] = values
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        issue = sb.update_issue(repo, sb.issue_for(repo, request.path_params["number"]), login, changes)
        return JSONResponse(sb.render.issue(issue))


def _since(request: Request) -> Any:
    since = request.query_params.get("since")
    if since is None:
        return None
    try:
        return parse_time(since)
    except ValueError:
        raise ApiError(422, f"Invalid value for since: {since!r} is not an ISO 8601 timestamp") from None


async def list_issues(request: Request, sb: GitHubSandbox, login: str) -> Response:
    q = request.query_params
    state = q.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise invalid("Issue", "state")
    sort, direction = q.get("sort", "created"), q.get("direction", "desc")
    since = _since(request)
    labels = [n for n in q.get("labels", "").split(",") if n]
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        items = [
            i
            for (name, _), i in sb.issues.items()
            if name == repo.full_name
            and not i.deleted
            and (state == "all" or i.state == state)
            and (since is None or i.updated_at >= since)
            and all(n in i.labels for n in labels)
            and (q.get("assignee") in (None, "*") or q.get("assignee") in i.assignees)
            and (q.get("creator") is None or q.get("creator") == i.user)
        ]
        key = {"updated": lambda i: i.updated_at, "comments": lambda i: len(i.comments)}.get(
            sort, lambda i: (i.created_at, i.number)
        )
        items.sort(key=key, reverse=direction != "asc")
        page, link = paginate(request, items)
        return JSONResponse([sb.render.issue(i) for i in page], headers=link)


async def search_issues(request: Request, sb: GitHubSandbox, login: str) -> Response:
    q = request.query_params.get("q")
    if not q:
        raise ApiError(
            422, "Validation Failed", errors=[{"resource": "Search", "field": "q", "code": "missing"}]
        )
    try:
        query = parse_query(q)
    except ValueError as exc:
        raise ApiError(
            422,
            "Validation Failed",
            errors=[{"message": str(exc), "resource": "Search", "field": "q", "code": "invalid"}],
        ) from None
    with sb.lock:
        items = [
            i
            for i in sb.issues.values()
            if not i.deleted and sb.repos[i.repo].visible_to(login) and matches_query(query, i)
        ]
        order = request.query_params.get("order", "desc")
        sort = request.query_params.get("sort")
        key = {"updated": lambda i: i.updated_at, "created": lambda i: i.created_at}.get(
            sort or "", lambda i: i.id
        )
        items.sort(key=key, reverse=order != "asc")
        page, link = paginate(request, items)
        body = {
            "total_count": len(items),
            "incomplete_results": False,
            "items": [sb.render.issue(i) for i in page],
        }
        return JSONResponse(body, headers=link)


async def search_users(request: Request, sb: GitHubSandbox, login: str) -> Response:
    """`q` words match a login or name (substring) or a public email (whole); `in:` narrows where."""
    q = request.query_params.get("q", "")
    terms = [t.lower() for t in q.split() if ":" not in t]
    where = {t.split(":", 1)[1] for t in q.split() if t.startswith("in:")} or {"login", "name", "email"}
    if not terms:
        raise ApiError(
            422, "Validation Failed", errors=[{"resource": "Search", "field": "q", "code": "missing"}]
        )

    def hit(term: str, user: User) -> bool:
        return (
            ("login" in where and term in user.login.lower())
            or ("name" in where and term in (user.name or "").lower())
            or ("email" in where and user.public_email and term == (user.email or "").lower())
        )

    with sb.lock:
        found = [u for u in sb.users.values() if all(hit(t, u) for t in terms)]
        page, link = paginate(request, found)
        items = [sb.render.user(u.login) for u in page]
        body = {"total_count": len(found), "incomplete_results": False, "items": items}
        return JSONResponse(body, headers=link)


async def create_comment(request: Request, sb: GitHubSandbox, login: str) -> Response:
    data = await body_object(request)
    body = data.get("body")
    if not isinstance(body, str) or not body:
        raise invalid("IssueComment", "body", "missing_field")
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        issue = sb.issue_for(repo, request.path_params["number"])
        comment = sb.add_comment(repo, issue, login, body)
        return JSONResponse(sb.render.comment(issue, comment), 201)


async def list_comments(request: Request, sb: GitHubSandbox, login: str) -> Response:
    since = _since(request)
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        issue = sb.issue_for(repo, request.path_params["number"])
        items = [c for c in issue.comments if since is None or c.updated_at >= since]
        page, link = paginate(request, items)
        return JSONResponse([sb.render.comment(issue, c) for c in page], headers=link)


async def create_hook(request: Request, sb: GitHubSandbox, login: str) -> Response:
    data = await body_object(request)
    config = data.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("url"), str) or not config["url"]:
        raise invalid("Hook", "url", "missing_field")
    content_type = config.get("content_type", "form")
    if content_type not in ("json", "form"):
        raise invalid("Hook", "content_type")
    secret = config.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise invalid("Hook", "secret")
    events = data.get("events", ["push"])
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise invalid("Hook", "events")
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        hook = sb.add_hook(
            repo, config["url"], content_type, secret or None, events, bool(data.get("active", True))
        )
        return JSONResponse(sb.render.hook(hook), 201)


async def list_hooks(request: Request, sb: GitHubSandbox, login: str) -> Response:
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        hooks = [h for h in sb.hooks.values() if h.repo == repo.full_name]
        page, link = paginate(request, hooks)
        return JSONResponse([sb.render.hook(h) for h in page], headers=link)


async def get_hook(request: Request, sb: GitHubSandbox, login: str) -> Response:
    with sb.lock:
        repo = sb.repo_for(full_name(request), login)
        hook = sb.hooks.get(request.path_params["hook_id"])
        if hook is None or hook.repo != repo.full_name:
            raise ApiError(404, "Not Found")
        if request.method == "DELETE":
            del sb.hooks[hook.id]
            return Response(status_code=204)
        return JSONResponse(sb.render.hook(hook))


async def revoke_token(request: Request) -> Response:
    """`DELETE /applications/{client_id}/token`: Basic client_id:secret, body {access_token}."""
    sb = sandbox_of(request)
    form = await read_form(request)
    client = sb.oauth.clients.get(request.path_params["client_id"])
    if (
        client is None
        or form.get("client_id") != client.client_id
        or form.get("client_secret") != client.client_secret
    ):
        return sb.error_response(ApiError(404, "Not Found"))
    data = await api_json(request, "Problems parsing JSON")
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or sb.oauth.revoke(token) == 0:
        return sb.error_response(ApiError(404, "Not Found"))
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    repo = "/repos/{owner}/{repo}"
    issue = repo + "/issues/{number:int}"
    return [
        Mount(
            "/login/oauth",
            routes=[
                Route("/authorize", authorize, methods=["GET"], name="oauth.authorize"),
                Route("/access_token", access_token, methods=["POST"], name="oauth.token"),
            ],
        ),
        Mount(
            "/api/v3",
            routes=[
                Route("/user", rest(get_user), methods=["GET"], name="user.get"),
                Route("/rate_limit", rest(get_rate_limit), methods=["GET"], name="rate_limit.get"),
                Route("/search/issues", rest(search_issues), methods=["GET"], name="search.issues"),
                Route("/search/users", rest(search_users), methods=["GET"], name="search.users"),
                Route(
                    "/applications/{client_id}/token", revoke_token, methods=["DELETE"], name="oauth.revoke"
                ),
                Route(
                    "/repositories/{repository_id:int}/issues/{number:int}",
                    rest(get_issue_by_repository_id),
                    methods=["GET"],
                    name="issues.get_by_repository_id",
                ),
                Route(repo, rest(get_repo), methods=["GET"], name="repos.get"),
                Route(repo + "/issues", rest(list_issues), methods=["GET"], name="issues.list"),
                Route(repo + "/issues", rest(create_issue), methods=["POST"], name="issues.create"),
                Route(issue, rest(get_issue), methods=["GET"], name="issues.get"),
                Route(issue, rest(update_issue), methods=["PATCH"], name="issues.update"),
                Route(issue + "/comments", rest(list_comments), methods=["GET"], name="comments.list"),
                Route(issue + "/comments", rest(create_comment), methods=["POST"], name="comments.create"),
                Route(repo + "/hooks", rest(list_hooks), methods=["GET"], name="hooks.list"),
                Route(repo + "/hooks", rest(create_hook), methods=["POST"], name="hooks.create"),
                Route(repo + "/hooks/{hook_id:int}", rest(get_hook), methods=["GET"], name="hooks.get"),
                Route(repo + "/hooks/{hook_id:int}", rest(get_hook), methods=["DELETE"], name="hooks.delete"),
            ],
        ),
    ]
