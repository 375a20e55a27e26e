"""`/_sandbox` routes of the Linear sandbox: set up teams and users, act as a person, spend the budget.

A person's change sends the same webhooks as one made through the API. Every action on an issue
answers with the issue (as its webhooks show it) and the ids of the deliveries it caused.

    POST /_sandbox/teams                 {"key", "name"?, "workflow"?: [{"name", "type"}]}  -> 201 team
    POST /_sandbox/users                 {"name", "email", "admin"?}                        -> 201 user
    POST /_sandbox/issues                {"team", "title", "description"?, "user"?}         -> 201
    POST /_sandbox/issues/{key}/state    {"to": state name, "user"?}
    POST /_sandbox/issues/{key}/edit     {"title"?, "description"?, "user"?}
    POST /_sandbox/issues/{key}/move     {"team", "user"?}     (a new identifier; the old one still reads)
    DELETE /_sandbox/issues/{key}        {"permanently"?, "user"?}
    GET|PUT /_sandbox/rate-limits        {"limit"?, "remaining"?, "status"?: 400 | 200}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.connectors.linear.sandbox.model import Issue
from conduit.connectors.linear.sandbox.sandbox import LinearSandbox
from conduit.connectors.linear.sandbox.schema import Failure
from conduit.connectors.sandbox.control import ControlError, control_json, opt, req

Action = Callable[[LinearSandbox, Issue | None, str, dict[str, Any]], Issue]


def sandbox_of(request: Request) -> LinearSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, LinearSandbox)
    return sandbox


async def add_team(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    workflow = opt(data, "workflow", list)
    try:
        steps = tuple((str(s["name"]), str(s["type"])) for s in workflow) if workflow else None
    except (KeyError, TypeError):
        raise ControlError("`workflow` is a list of {name, type}") from None
    try:
        name = opt(data, "name", str)
        team = (
            sb.add_team(req(data, "key", str), name, steps)
            if steps
            else sb.add_team(req(data, "key", str), name)
        )
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    states = [{"id": s.id, "name": s.name, "type": s.type} for s in team.states]
    return JSONResponse({"id": team.id, "key": team.key, "name": team.name, "states": states}, 201)


async def add_user(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    user = sb.add_user(req(data, "name", str), req(data, "email", str), bool(opt(data, "admin", bool, False)))
    return JSONResponse(
        {"id": user.id, "name": user.name, "displayName": user.display_name, "email": user.email}, 201
    )


async def rate_limits(request: Request) -> Response:
    """Spend (or refill) the request budget; `status` is the HTTP status a RATELIMITED answer has."""
    sb = sandbox_of(request)
    if request.method == "PUT":
        data = await control_json(request)
        if "limit" in data:
            sb.budget.limit = max(0, req(data, "limit", int))
        if "remaining" in data:
            sb.budget.remaining = max(0, req(data, "remaining", int))
        if "status" in data:
            status = req(data, "status", int)
            if status not in (200, 400, 429):
                raise ControlError("`status` must be 400 (as Linear answers), 200 or 429")
            sb.budget.status = status
    budget = sb.budget
    return JSONResponse(
        {
            "limit": budget.limit,
            "remaining": budget.remaining,
            "reset_ms": int(budget.reset * 1000),
            "status": budget.status,
        }
    )


def act(action: Action, needs_issue: bool = True) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sb, data = sandbox_of(request), await control_json(request)
        actor = opt(data, "user", str) or sb.human
        if actor not in sb.users:
            raise ControlError(f"unknown user {actor!r}")
        with sb.lock:
            issue = None
            if needs_issue:
                try:
                    issue = sb.issue_for(request.path_params["key"])
                except Failure:
                    raise ControlError("no such issue (or it was deleted for good)", 404) from None
            first = len(sb.outbox.deliveries)
            try:
                result = action(sb, issue, actor, data)
            except Failure as exc:
                raise ControlError(str(exc.extensions.get("userPresentableMessage") or exc)) from None
            caused = [d.id for d in sb.outbox.list()[first:]]
            body = {"issue": sb.issue_json(result), "deliveries": caused}
            return JSONResponse(body, 200 if needs_issue else 201)

    return endpoint


def _create(sb: LinearSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    team = sb.teams.get(req(data, "team", str))
    if team is None:
        raise ControlError(f"no team {data['team']!r}", 404)
    return sb.create_issue(team, actor, req(data, "title", str), opt(data, "description", str))


def _state(sb: LinearSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    team = sb.teams[issue.team]
    target = req(data, "to", str)
    state = next((s for s in team.states if s.name.lower() == target.lower()), None)
    if state is None:
        raise ControlError(f"`to` must be a state of {team.key}: {[s.name for s in team.states]}")
    if state.id == issue.state.id:
        raise ControlError(f"{issue.identifier} is already in {state.name}")
    sb.update_issue(issue, actor, {"stateId": state.id})
    return issue


def _edit(sb: LinearSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    changes: dict[str, Any] = {k: data[k] for k in ("title", "description") if k in data}
    if not changes:
        raise ControlError("give `title` and/or `description`")
    sb.update_issue(issue, actor, changes)
    return issue


def _move(sb: LinearSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    team = sb.teams.get(req(data, "team", str))
    if team is None:
        raise ControlError(f"no team {data['team']!r}", 404)
    sb.update_issue(issue, actor, {"teamId": team.id})
    return issue


def _delete(sb: LinearSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    sb.delete_issue(issue, actor, permanently=bool(opt(data, "permanently", bool, False)))
    return issue


def routes() -> list[BaseRoute]:
    issue = "/issues/{key}"
    return [
        Route("/teams", add_team, methods=["POST"]),
        Route("/users", add_user, methods=["POST"]),
        Route("/rate-limits", rate_limits, methods=["GET", "PUT"]),
        Route("/issues", act(_create, needs_issue=False), methods=["POST"]),
        Route(issue + "/state", act(_state), methods=["POST"]),
        Route(issue + "/edit", act(_edit), methods=["POST"]),
        Route(issue + "/move", act(_move), methods=["POST"]),
        Route(issue, act(_delete), methods=["DELETE"]),
    ]
