"""`/_sandbox` routes of the Jira sandbox: set up users, projects and admin webhooks, act as a person.

A person's change sends the same webhooks as one made through the API. Every action answers with the
issue as the API shows it and the ids of the deliveries it caused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.connectors.jira.sandbox import adf, jql
from conduit.connectors.jira.sandbox.model import ISSUE_TYPES, Issue
from conduit.connectors.jira.sandbox.sandbox import JiraSandbox
from conduit.connectors.sandbox.control import ControlError, control_json, opt, req
from conduit.connectors.sandbox.core import ApiError

Action = Callable[[JiraSandbox, Issue | None, str, dict[str, Any]], Issue]


def sandbox_of(request: Request) -> JiraSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, JiraSandbox)
    return sandbox


async def add_user(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    user = sb.add_user(
        req(data, "displayName", str), req(data, "email", str), bool(opt(data, "hide_email", bool, False))
    )
    return JSONResponse({**(sb.render.user(user.account_id) or {}), "emailAddress": user.email}, 201)


async def add_project(request: Request) -> Response:
    """`workflow`: [{"name": "Won't Do", "category": "done"}, ...]; the first status is the initial one."""
    sb, data = sandbox_of(request), await control_json(request)
    workflow = opt(data, "workflow", list)
    try:
        steps = tuple((str(s["name"]), str(s["category"])) for s in workflow) if workflow else None
    except (KeyError, TypeError):
        raise ControlError("`workflow` is a list of {name, category}") from None
    try:
        project = (
            sb.add_project(req(data, "key", str), opt(data, "name", str), steps)
            if steps
            else sb.add_project(req(data, "key", str), opt(data, "name", str))
        )
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    r = sb.render
    transitions = [r.transition(t) for t in project.transitions]
    return JSONResponse(
        r.project(project)
        | {"statuses": [r.status(s) for s in project.statuses], "transitions": transitions},
        201,
    )


async def add_admin_webhook(request: Request) -> Response:
    """A webhook an administrator made in Jira's settings: optional secret → `X-Hub-Signature`."""
    sb, data = sandbox_of(request), await control_json(request)
    try:
        hook = sb.register_webhook(
            req(data, "url", str),
            opt(data, "events", list, ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted"]),
            opt(data, "jql", str, "") or "",
            None,
            opt(data, "secret", str),
            opt(data, "name", str, "admin webhook"),
        )
    except (ValueError, jql.JqlError) as exc:
        raise ControlError(str(exc)) from None
    return JSONResponse(sb.webhook_json(hook), 201)


def _document(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return adf.from_text(value)
    try:
        return adf.validate(value, key)
    except adf.AdfError as exc:
        raise ControlError(str(exc)) from None


def act(action: Action, needs_issue: bool = True) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sb, data = sandbox_of(request), await control_json(request)
        actor = opt(data, "user", str) or sb.human
        if actor not in sb.users:
            raise ControlError(f"unknown accountId {actor!r}")
        with sb.lock:
            issue = None
            if needs_issue:
                try:
                    issue = sb.issue_for(request.path_params["key"])
                except ApiError:
                    raise ControlError("no such issue (or it was deleted)", 404) from None
            first = len(sb.outbox.deliveries)
            result = action(sb, issue, actor, data)
            caused = [d.id for d in sb.outbox.list()[first:]]
            body = {"issue": sb.render.issue(result), "deliveries": caused}
            return JSONResponse(body, 200 if needs_issue else 201)

    return endpoint


def _create(sb: JiraSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    project = sb.projects.get(req(data, "project", str))
    if project is None:
        raise ControlError(f"no project {data['project']!r}", 404)
    type_name = opt(data, "issuetype", str, "Task")
    type_id = next((i for i, n in ISSUE_TYPES.items() if n.lower() == type_name.lower()), None)
    if type_id is None:
        raise ControlError(f"`issuetype` must be one of {sorted(ISSUE_TYPES.values())}")
    return sb.create_issue(project, actor, req(data, "summary", str), _document(data, "description"), type_id)


def _transition(sb: JiraSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    project = sb.projects[issue.project]
    target = req(data, "to", str)
    chosen = next((t for t in project.transitions if t.to.name.lower() == target.lower()), None)
    if chosen is None:
        names = [s.name for s in project.statuses]
        raise ControlError(f"`to` must be a status of {project.key}: {names}")
    if chosen.to.id == issue.status.id:
        raise ControlError(f"{issue.key} is already in {issue.status.name}")
    sb.transition(issue, actor, chosen)
    return issue


def _comment(sb: JiraSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    body = _document(data, "body") or _document(data, "text")
    if body is None:
        raise ControlError("give `text` (plain) or `body` (ADF)")
    sb.add_comment(issue, actor, body)
    return issue


def _edit(sb: JiraSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    changes: dict[str, Any] = {}
    if "summary" in data:
        changes["summary"] = req(data, "summary", str)
    if "description" in data:
        changes["description"] = _document(data, "description")
    if not changes:
        raise ControlError("give `summary` and/or `description`")
    sb.edit_issue(issue, actor, changes)
    return issue


def _assign(sb: JiraSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    account = opt(data, "accountId", str)
    if account is not None and account not in sb.users:
        raise ControlError(f"unknown accountId {account!r}")
    sb.assign(issue, actor, account)
    return issue


def _delete(sb: JiraSandbox, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    sb.delete_issue(issue, actor)
    return issue


def routes() -> list[BaseRoute]:
    issue = "/issues/{key}"
    return [
        Route("/users", add_user, methods=["POST"]),
        Route("/projects", add_project, methods=["POST"]),
        Route("/admin-webhooks", add_admin_webhook, methods=["POST"]),
        Route("/issues", act(_create, needs_issue=False), methods=["POST"]),
        Route(issue + "/transition", act(_transition), methods=["POST"]),
        Route(issue + "/comment", act(_comment), methods=["POST"]),
        Route(issue + "/edit", act(_edit), methods=["POST"]),
        Route(issue + "/assign", act(_assign), methods=["POST"]),
        Route(issue, act(_delete), methods=["DELETE"]),
    ]
