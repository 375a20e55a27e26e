"""`/_sandbox` routes of the GitLab sandbox: set up users and projects, and act as a person on GitLab.

Projects are named in the body (their paths hold slashes). A person's change sends the same webhooks
as a change through the API; each action answers with the issue as the API shows it and the ids of
the deliveries it caused. Moving an issue is the shared `POST /_sandbox/tickets/move`.

    POST /_sandbox/users          {"username", "name"?, "email"?, "public_email"?, "admin"?}
    POST /_sandbox/projects       {"path"}
    POST /_sandbox/issues         {"project", "title", "description"?, "assignee_ids"?, "user"?}
    POST /_sandbox/hooks          {"project", "url", "token"?}   a hook a person added in the settings
    PUT  /_sandbox/ratelimit      {"limit"?, "window"?, "reset"?}
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.connectors.gitlab.sandbox.model import Project
from conduit.connectors.gitlab.sandbox.sandbox import GitLabSandbox
from conduit.connectors.sandbox.control import ControlError, control_json, opt, req
from conduit.connectors.sandbox.core import ApiError


def sandbox_of(request: Request) -> GitLabSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, GitLabSandbox)
    return sandbox


def _project(sb: GitLabSandbox, path: str) -> Project:
    project = sb.project_by_path(path)
    if project is None:
        raise ControlError(f"no project {path}", 404)
    return project


async def add_user(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    username = req(data, "username", str)
    if username.isdigit():
        raise ControlError("a username cannot be all digits (ids are)")
    user = sb.add_user(
        username,
        opt(data, "name", str),
        opt(data, "email", str),
        bool(opt(data, "public_email", bool, True)),
        bool(opt(data, "admin", bool, False)),
    )
    return JSONResponse(sb.render.me(user.id), 201)


async def add_project(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    try:
        project = sb.add_project(req(data, "path", str))
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    return JSONResponse(sb.render.project(project), 201)


async def open_issue(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    with sb.lock:
        actor = sb.user_id(opt(data, "user", str) or sb.human)
        first = len(sb.outbox.deliveries)
        try:
            issue = sb.create_issue(
                _project(sb, req(data, "project", str)),
                actor,
                req(data, "title", str),
                opt(data, "description", str),
                opt(data, "assignee_ids", list),
            )
        except ApiError as exc:
            raise ControlError(exc.message) from None
        caused = [d.id for d in sb.outbox.list()[first:]]
        return JSONResponse({"ticket": sb.render.issue(issue), "deliveries": caused}, 201)


async def add_hook(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    with sb.lock:
        project = _project(sb, req(data, "project", str))
        hook = sb.add_hook(
            project,
            {
                "url": req(data, "url", str),
                "token": opt(data, "token", str),
                "issues_events": True,
                "note_events": True,
            },
        )
        return JSONResponse(sb.render.hook(hook), 201)


async def set_rate_limit(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    if "limit" in data:
        sb.rate_limit = req(data, "limit", int)
    if "window" in data:
        sb.rate_window = float(req(data, "window", (int, float)))
    if data.get("reset"):
        sb.reset_budgets()
    return JSONResponse({"limit": sb.rate_limit, "window": sb.rate_window})


def routes() -> list[BaseRoute]:
    return [
        Route("/users", add_user, methods=["POST"]),
        Route("/projects", add_project, methods=["POST"]),
        Route("/issues", open_issue, methods=["POST"]),
        Route("/hooks", add_hook, methods=["POST"]),
        Route("/ratelimit", set_rate_limit, methods=["PUT"]),
    ]
