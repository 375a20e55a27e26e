"""`/_sandbox` routes of the Shortcut sandbox: API tokens, members, teams and workflows, stories made by
a person, the rate limit.

    POST   /_sandbox/api-tokens          {"user"?}  -> 201 {"token", "member"}   (default: the first member)
    DELETE /_sandbox/api-tokens/{token}              -> 204, or 404 when unknown
    POST   /_sandbox/members             {"name", "email", "email_shown"?, "role"?} -> 201 member
    POST   /_sandbox/workflows           {"name", "states": [{"name", "type"}]}    -> 201 workflow
    POST   /_sandbox/groups              {"name", "mention_name", "workflow_ids"?}  -> 201 team
    POST   /_sandbox/stories             {"name", "description"?, "user"?}  -> 201 {"story", "deliveries"}
    PUT    /_sandbox/ratelimit           {"limit"?, "reset"?}                        -> {"limit"}
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.connectors.sandbox.control import ControlError, control_json, opt, req
from conduit.connectors.shortcut.sandbox.sandbox import ShortcutSandbox


def sandbox_of(request: Request) -> ShortcutSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, ShortcutSandbox)
    return sandbox


async def mint_token(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    member = opt(data, "user", str) or sb.oauth.consent_user
    return JSONResponse({"token": sb.mint_token(member), "member": member}, 201)


async def revoke_token(request: Request) -> Response:
    sb = sandbox_of(request)
    if not sb.revoke_token(request.path_params["token"]):
        raise ControlError("no such API token", 404)
    return Response(status_code=204)


async def add_member(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    role = opt(data, "role", str) or "member"
    if role not in ("owner", "admin", "member", "observer"):
        raise ControlError("`role` is owner, admin, member or observer")
    member = sb.add_member(
        req(data, "name", str),
        req(data, "email", str),
        role=role,
        email_shown=opt(data, "email_shown", bool, True),
    )
    return JSONResponse(sb.render.member(member), 201)


async def add_workflow(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    states = req(data, "states", list)
    try:
        pairs = tuple((str(s["name"]), str(s["type"])) for s in states)
        workflow = sb.add_workflow(req(data, "name", str), pairs)
    except (KeyError, TypeError):
        raise ControlError("`states` is a list of {name, type}") from None
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    return JSONResponse(sb.render.workflow(workflow), 201)


async def add_group(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    workflow_ids = opt(data, "workflow_ids", list) or [sb.workspace.default_workflow_id]
    if any(w not in sb.workflows for w in workflow_ids):
        raise ControlError("unknown workflow in `workflow_ids`")
    try:
        group = sb.add_group(req(data, "name", str), req(data, "mention_name", str), workflow_ids)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    return JSONResponse(sb.render.group(group), 201)


async def add_story(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    actor = opt(data, "user", str) or sb.human
    if not sb.knows_user(actor):
        raise ControlError(f"unknown user {actor!r}")
    with sb.lock:
        first = len(sb.outbox.deliveries)
        story = sb.create_story(actor, req(data, "name", str), opt(data, "description", str) or "")
        caused = [d.id for d in sb.outbox.list()[first:]]
        return JSONResponse({"story": sb.render.story(story), "deliveries": caused}, 201)


async def ratelimit(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    if "limit" in data:
        limit = req(data, "limit", int)
        if limit < 1:
            raise ControlError("`limit` must be at least 1")
        sb.rate_limit = limit
    if opt(data, "reset", bool):
        sb.reset_budgets()
    return JSONResponse({"limit": sb.rate_limit})


def routes() -> list[BaseRoute]:
    return [
        Route("/api-tokens", mint_token, methods=["POST"]),
        Route("/api-tokens/{token}", revoke_token, methods=["DELETE"]),
        Route("/members", add_member, methods=["POST"]),
        Route("/workflows", add_workflow, methods=["POST"]),
        Route("/groups", add_group, methods=["POST"]),
        Route("/stories", add_story, methods=["POST"]),
        Route("/ratelimit", ratelimit, methods=["PUT"]),
    ]
