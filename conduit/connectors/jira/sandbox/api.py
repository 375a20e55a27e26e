"""Jira's HTTP face, Data Center layout: OAuth under /rest/oauth2/latest, REST under /rest/api/3.

The REST routes are also served under /ex/jira/{cloudid}/rest/api/3, the Cloud gateway layout.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from conduit.connectors.jira.sandbox import adf, jql
from conduit.connectors.jira.sandbox.model import ISSUE_TYPES, Issue
from conduit.connectors.jira.sandbox.sandbox import JiraSandbox
from conduit.connectors.sandbox.core import ApiError, api_json, bearer, read_form
from conduit.connectors.sandbox.oauth import Grant, OAuthError

Handler = Callable[[Request, JiraSandbox, Grant], Awaitable[Response]]
OAUTH_ERRORS = {
    "client": (401, "invalid_client"),
    "redirect_uri": (400, "invalid_grant"),
    "code": (403, "invalid_grant"),
    "refresh": (403, "invalid_grant"),
    "grant_type": (400, "unsupported_grant_type"),
    "request": (400, "invalid_request"),
    "scope": (400, "invalid_scope"),
}
MAX_RESULTS = 100


def sandbox_of(request: Request) -> JiraSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, JiraSandbox)
    return sandbox


def oauth_error(exc: OAuthError) -> Response:
    status, code = OAUTH_ERRORS[exc.kind]
    return JSONResponse({"error": code, "error_description": exc.description}, status)


async def authorize(request: Request) -> Response:
    sb = sandbox_of(request)
    if request.query_params.get("response_type") != "code":
        return JSONResponse(
            {"error": "unsupported_response_type", "error_description": "use response_type=code"}, 400
        )
    try:
        return RedirectResponse(sb.oauth.authorize(dict(request.query_params)), 302)
    except OAuthError as exc:
        return oauth_error(exc)


async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        _, reply = sb.oauth.token(await read_form(request))
    except OAuthError as exc:
        return oauth_error(exc)
    reply["token_type"] = "Bearer"
    reply.pop("refresh_token_expires_in", None)
    return JSONResponse(reply)


def authenticated(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sb = sandbox_of(request)
        try:
            cloud_id = request.path_params.get("cloudid")
            if cloud_id is not None and cloud_id != sb.cloud_id:
                raise ApiError(404, "Site not found")
            value = bearer(request)
            grant = sb.oauth.authenticate(value) if value else None
            if grant is None:
                raise ApiError(401, "Client must be authenticated to access this resource.")
            return await handler(request, sb, grant)
        except ApiError as exc:
            return sb.error_response(exc)

    return endpoint


async def body_object(request: Request) -> dict[str, Any]:
    data = await api_json(request, "Unexpected character: the request body is not valid JSON.")
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


def field_error(field: str, message: str) -> ApiError:
    return ApiError(400, "", errors={field: message})


# -- discovery ----------------------------------------------------------------------------------------
async def accessible_resources(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    return JSONResponse(
        [
            {
                "id": sb.cloud_id,
                "name": "sandbox",
                "url": sb.url,
                "scopes": grant.scope.split(),
                "avatarUrl": f"{sb.url}/avatar.png",
            }
        ]
    )


async def myself(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    return JSONResponse(sb.render.user(grant.user))


async def get_user(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    account_id = request.query_params.get("accountId", "")
    if account_id not in sb.users:
        raise ApiError(404, "Specified user does not exist or you do not have required permissions")
    return JSONResponse(sb.render.user(account_id))


async def search_users(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    query = request.query_params.get("query", "").lower()
    account_id = request.query_params.get("accountId")
    found = [
        sb.render.user(a)
        for a, u in sb.users.items()
        if (account_id is None or a == account_id)
        # A hidden email still matches an exact search, as in Jira, but is not shown.
        and (not query or query in u.display_name.lower() or query == u.email.lower())
    ]
    return JSONResponse(found)


async def get_project(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    key = request.path_params["key"]
    project = sb.projects.get(key.upper()) or next((p for p in sb.projects.values() if p.id == key), None)
    if project is None:
        raise ApiError(404, f"No project could be found with key '{key}'.")
    if request.url.path.endswith("/statuses"):
        statuses = [sb.render.status(s) for s in project.statuses]
        return JSONResponse(
            [{"id": t, "name": n, "subtask": False, "statuses": statuses} for t, n in ISSUE_TYPES.items()]
        )
    return JSONResponse(sb.render.project(project))


# -- issues -------------------------------------------------------------------------------------------
def _assignee(sb: JiraSandbox, value: Any) -> str | None:
    if value is None:
        return None
    account = value.get("accountId") if isinstance(value, dict) else None
    if account is not None and account not in sb.users:
        raise field_error("assignee", f"User '{account}' does not exist.")
    return account if isinstance(account, str) else None


def _description(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        return adf.validate(value, "description")
    except adf.AdfError as exc:
        raise field_error("description", f"Operation value must be an Atlassian Document: {exc}") from None


def _labels(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and " " not in v for v in value):
        raise field_error("labels", "Labels must be a list of strings without spaces.")
    return value


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def create_issue(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    data = await body_object(request)
    fields = data.get("fields")
    if not isinstance(fields, dict):
        raise ApiError(400, "The request needs a 'fields' object.")
    errors: dict[str, str] = {}
    project_ref = _obj(fields.get("project"))
    key = project_ref.get("key") or project_ref.get("id")
    project = sb.projects.get(str(key)) or next((p for p in sb.projects.values() if p.id == str(key)), None)
    if project is None:
        errors["project"] = "Specify a valid project ID or key"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    type_ref = _obj(fields.get("issuetype"))
    type_id = str(type_ref.get("id") or "") or next(
        (i for i, n in ISSUE_TYPES.items() if n.lower() == str(type_ref.get("name", "")).lower()), ""
    )
    if type_id not in ISSUE_TYPES:
        errors["issuetype"] = "Specify an issue type"
    if errors:
        raise ApiError(400, "", errors=errors)
    assert project is not None and isinstance(summary, str)
    description = _description(fields.get("description"))
    assignee = _assignee(sb, fields.get("assignee"))
    labels = _labels(fields["labels"]) if "labels" in fields else []
    issue = sb.create_issue(project, grant.user, summary, description, type_id, assignee, labels)
    return JSONResponse({"id": issue.id, "key": issue.key, "self": f"{sb.render.api}/issue/{issue.id}"}, 201)


async def get_issue(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    fields = request.query_params.get("fields")
    wanted = {f.strip() for f in fields.split(",") if f.strip()} if fields else None
    expand = {e.strip() for e in request.query_params.get("expand", "").split(",")}
    with sb.lock:
        issue = sb.issue_for(request.path_params["key"])
        data = sb.render.issue(issue, wanted)
        if "transitions" in expand:
            # As Jira does: the transitions the issue can take now, beside its fields.
            project = sb.projects[issue.project]
            data["transitions"] = [
                sb.render.transition(t) for t in project.transitions if t.to.id != issue.status.id
            ]
        return JSONResponse(data)


async def edit_issue(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    data = await body_object(request)
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        raise ApiError(400, "'fields' must be an object.")
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "summary":
            if not isinstance(value, str) or not value.strip():
                raise field_error("summary", "You must specify a summary of the issue.")
            changes["summary"] = value
        elif name == "description":
            changes["description"] = _description(value)
        elif name == "labels":
            changes["labels"] = _labels(value)
        elif name == "assignee":
            changes["assignee"] = _assignee(sb, value)
        else:
            raise field_error(
                name, f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            )
    with sb.lock:
        issue = sb.issue_for(request.path_params["key"])
        sb.edit_issue(issue, grant.user, changes)
    return Response(status_code=204)


async def delete_issue(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    with sb.lock:
        sb.delete_issue(sb.issue_for(request.path_params["key"]), grant.user)
    return Response(status_code=204)


async def transitions(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    with sb.lock:
        issue = sb.issue_for(request.path_params["key"])
        project = sb.projects[issue.project]
        available = [t for t in project.transitions if t.to.id != issue.status.id]
        if request.method == "GET":
            return JSONResponse(
                {"expand": "transitions", "transitions": [sb.render.transition(t) for t in available]}
            )
    data = await body_object(request)
    ref = data.get("transition")
    wanted = str(ref.get("id", "")) if isinstance(ref, dict) else ""
    if not wanted:
        raise ApiError(400, "'transition' must be an object with an 'id'.")
    with sb.lock:
        issue = sb.issue_for(request.path_params["key"])
        project = sb.projects[issue.project]
        available = [t for t in project.transitions if t.to.id != issue.status.id]
        chosen = next((t for t in available if t.id == wanted), None)
        if chosen is None:
            raise ApiError(400, f"Transition id '{wanted}' is not valid for this issue.")
        sb.transition(issue, grant.user, chosen)
    return Response(status_code=204)


async def assign(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    data = await body_object(request)
    if "accountId" not in data:
        raise field_error("accountId", "accountId is required (null to unassign).")
    account = data["accountId"]
    if account is not None and account not in sb.users:
        raise ApiError(404, f"User '{account}' does not exist.")
    with sb.lock:
        sb.assign(sb.issue_for(request.path_params["key"]), grant.user, account)
    return Response(status_code=204)


async def comments(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    if request.method == "GET":
        with sb.lock:
            issue = sb.issue_for(request.path_params["key"])
            items = [sb.render.comment(issue, c) for c in issue.comments]
            return JSONResponse(
                {"startAt": 0, "maxResults": len(items), "total": len(items), "comments": items}
            )
    data = await body_object(request)
    try:
        body = adf.validate(data.get("body"), "body")
    except adf.AdfError as exc:
        raise field_error("comment", f"Comment body must be an Atlassian Document: {exc}") from None
    with sb.lock:
        issue = sb.issue_for(request.path_params["key"])
        comment = sb.add_comment(issue, grant.user, body)
        return JSONResponse(sb.render.comment(issue, comment), 201)


async def search(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        params |= await body_object(request)
    fields = params.get("fields")
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",") if f.strip()]
    wanted = set(fields) if isinstance(fields, list) else {"id"}
    try:
        max_results = min(max(int(params.get("maxResults", 50)), 1), MAX_RESULTS)
        start = int(params.get("nextPageToken") or 0)
    except ValueError:
        raise ApiError(400, "maxResults and nextPageToken must be valid.") from None
    text = params.get("jql")
    if not isinstance(text, str) or not text.strip():
        # Unbounded queries are refused by the enhanced search.
        raise ApiError(400, "Unbounded JQL queries are not allowed here. Please add a search restriction.")
    try:
        query = jql.parse(text, sb.clock.now())
    except jql.JqlError as exc:
        raise ApiError(400, str(exc)) from None
    with sb.lock:
        found = [i for i in sb.issues.values() if not i.deleted and query.where(sb.view(i))]
        for field, descending in reversed(query.order or [("created", True)]):
            found.sort(key=functools.partial(_order_key, sb, field=field), reverse=descending)
        page = found[start : start + max_results]
        body: dict[str, Any] = {"issues": [sb.render.issue(i, wanted) for i in page]}
        if start + max_results < len(found):
            body["nextPageToken"] = str(start + max_results)
            body["isLast"] = False
        else:
            body["isLast"] = True
        return JSONResponse(body)


def _order_key(sb: JiraSandbox, issue: Issue, field: str) -> Any:
    if field in ("key", "id", "issuekey"):
        return (issue.project, int(issue.key.rsplit("-", 1)[1]))
    if field in ("updated", "created"):
        return getattr(issue, field)
    return str(sb.view(issue).values(field))


# -- webhooks -----------------------------------------------------------------------------------------
async def webhooks(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    if request.method == "GET":
        mine = [sb.webhook_json(w) for w in sb.webhooks.values() if w.client_id == grant.client_id]
        return JSONResponse(
            {"startAt": 0, "maxResults": 100, "total": len(mine), "isLast": True, "values": mine}
        )
    data = await body_object(request)
    if request.method == "DELETE":
        ids = data.get("webhookIds")
        if not isinstance(ids, list):
            raise field_error("webhookIds", "webhookIds must be a list")
        with sb.lock:
            for hook_id in ids:
                hook = sb.webhooks.get(hook_id)
                if hook is not None and hook.client_id == grant.client_id:
                    del sb.webhooks[hook_id]
        return Response(status_code=202)
    url, specs = data.get("url"), data.get("webhooks")
    if not isinstance(url, str) or not url or not isinstance(specs, list) or not specs:
        raise ApiError(400, "Give 'url' and a non-empty 'webhooks' list.")
    results: list[dict[str, Any]] = []
    for spec in specs:
        spec = spec if isinstance(spec, dict) else {}
        events, jql_filter = spec.get("events"), spec.get("jqlFilter")
        if not isinstance(events, list) or not isinstance(jql_filter, str):
            results.append({"errors": ["Each webhook needs 'events' (a list) and 'jqlFilter' (a string)."]})
            continue
        try:
            hook = sb.register_webhook(url, events, jql_filter, grant.client_id)
        except ValueError as exc:
            results.append({"errors": [str(exc)]})
        else:
            results.append({"createdWebhookId": hook.id})
    return JSONResponse({"webhookRegistrationResult": results})


async def refresh_webhooks(request: Request, sb: JiraSandbox, grant: Grant) -> Response:
    data = await body_object(request)
    ids = data.get("webhookIds")
    if not isinstance(ids, list):
        raise field_error("webhookIds", "webhookIds must be a list")
    expires = sb.clock.time() + 30 * 86400
    with sb.lock:
        for hook_id in ids:
            hook = sb.webhooks.get(hook_id)
            if hook is not None and hook.client_id == grant.client_id:
                hook.expires_at = expires
    return JSONResponse({"expirationDate": sb.webhook_json_date(expires)})


def rest_routes() -> list[BaseRoute]:
    issue = "/issue/{key}"
    return [
        Route("/myself", authenticated(myself), methods=["GET"], name="myself"),
        Route("/user", authenticated(get_user), methods=["GET"], name="user.get"),
        Route("/user/search", authenticated(search_users), methods=["GET"], name="user.search"),
        Route("/project/{key}", authenticated(get_project), methods=["GET"], name="project.get"),
        Route(
            "/project/{key}/statuses", authenticated(get_project), methods=["GET"], name="project.statuses"
        ),
        Route("/issue", authenticated(create_issue), methods=["POST"], name="issue.create"),
        Route(issue, authenticated(get_issue), methods=["GET"], name="issue.get"),
        Route(issue, authenticated(edit_issue), methods=["PUT"], name="issue.edit"),
        Route(issue, authenticated(delete_issue), methods=["DELETE"], name="issue.delete"),
        Route(issue + "/transitions", authenticated(transitions), methods=["GET"], name="transitions.list"),
        Route(issue + "/transitions", authenticated(transitions), methods=["POST"], name="transitions.do"),
        Route(issue + "/assignee", authenticated(assign), methods=["PUT"], name="issue.assign"),
        Route(issue + "/comment", authenticated(comments), methods=["GET"], name="comments.list"),
        Route(issue + "/comment", authenticated(comments), methods=["POST"], name="comments.create"),
        Route("/search/jql", authenticated(search), methods=["GET", "POST"], name="search.jql"),
        Route("/webhook", authenticated(webhooks), methods=["GET", "POST", "DELETE"], name="webhooks"),
        Route("/webhook/refresh", authenticated(refresh_webhooks), methods=["PUT"], name="webhooks.refresh"),
    ]


def routes() -> list[BaseRoute]:
    rest = rest_routes()
    return [
        Mount(
            "/rest/oauth2/latest",
            routes=[
                Route("/authorize", authorize, methods=["GET"], name="oauth.authorize"),
                Route("/token", token, methods=["POST"], name="oauth.token"),
            ],
        ),
        Route(
            "/oauth/token/accessible-resources",
            authenticated(accessible_resources),
            methods=["GET"],
            name="accessible_resources",
        ),
        Mount("/rest/api/3", routes=rest),
        Mount("/ex/jira/{cloudid}/rest/api/3", routes=rest),
    ]
