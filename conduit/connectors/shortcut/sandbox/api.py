"""Shortcut's HTTP face: REST v3 under /api/v3, authenticated by the `Shortcut-Token` header, and the
OAuth endpoints of its flow for newer apps under /oauth-authorization-code-flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from conduit.connectors.sandbox.core import ApiError, api_json, read_form
from conduit.connectors.sandbox.oauth import OAuthError
from conduit.connectors.sandbox.state import parse_time
from conduit.connectors.shortcut.sandbox.sandbox import ShortcutSandbox
from conduit.connectors.shortcut.sandbox.search import matches, parse_query

Handler = Callable[[Request, ShortcutSandbox, str], Awaitable[Response]]
OAUTH_ERRORS = {
    "client": (401, "invalid_client"),
    "redirect_uri": (400, "invalid_grant"),
    "code": (400, "invalid_grant"),
    "refresh": (400, "invalid_grant"),
    "grant_type": (400, "unsupported_grant_type"),
    "request": (400, "invalid_request"),
    "scope": (400, "invalid_scope"),
}
SEARCH_PAGE_MAX = 25
# `POST /stories/search` answers in one list, cut at this many stories.
QUERY_MAX = 1000


def sandbox_of(request: Request) -> ShortcutSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, ShortcutSandbox)
    return sandbox


# -- OAuth --------------------------------------------------------------------------------------------
async def authorize(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        return RedirectResponse(sb.oauth.authorize(dict(request.query_params)), 302)
    except OAuthError as exc:
        status, code = OAUTH_ERRORS[exc.kind]
        return JSONResponse({"error": code, "error_description": exc.description}, status)


async def token(request: Request) -> Response:
    sb = sandbox_of(request)
    try:
        _, reply = sb.oauth.token(await read_form(request))
    except OAuthError as exc:
        status, code = OAUTH_ERRORS[exc.kind]
        return JSONResponse({"error": code, "error_description": exc.description}, status)
    reply["token_type"] = "Bearer"
    return JSONResponse(reply)


# -- REST plumbing ------------------------------------------------------------------------------------
def rest(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The token in `Shortcut-Token`, 200 requests a minute per token, errors in Shortcut's shape."""

    async def endpoint(request: Request) -> Response:
        sb = sandbox_of(request)
        try:
            value = request.headers.get("shortcut-token", "").strip()
            member = sb.authenticate(value)
            if member is None:
                raise ApiError(401, "Unauthorized")
            wait = sb.spend(value)
            if wait is not None:
                raise ApiError(429, "Too Many Requests", headers={"Retry-After": str(int(wait + 0.999))})
            return await handler(request, sb, member)
        except ApiError as exc:
            return sb.error_response(exc)

    return endpoint


async def body_object(request: Request) -> dict[str, Any]:
    data = await api_json(request, "Unable to parse the request body as JSON.")
    if not isinstance(data, dict):
        raise ApiError(400, "Schema mismatch", errors={"body": "must be a JSON object"})
    return data


def mismatch(field: str, why: str) -> ApiError:
    """Shortcut answers a body that does not fit the endpoint's schema with 400 "Schema mismatch"."""
    return ApiError(400, "Schema mismatch", errors={field: why})


def _owners(sb: ShortcutSandbox, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise mismatch("owner_ids", "(not (sequential? [uuid]))")
    unknown = [v for v in value if v not in sb.members]
    if unknown:
        raise ApiError(422, "Unprocessable", errors={"owner_ids": f"unknown members {unknown}"})
    return value


def _state_id(sb: ShortcutSandbox, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise mismatch("workflow_state_id", "(not (integer? a-int))")
    if sb.state(value) is None:
        raise ApiError(422, "Unprocessable", errors={"workflow_state_id": "no such workflow state"})
    return value


def _text(data: dict[str, Any], field: str, required: bool = False, limit: int = 100_000) -> str | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise mismatch(field, f"(not (string? a-string-of-at-most-{limit}))")
    return value


# -- REST endpoints -----------------------------------------------------------------------------------
async def current_member(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    return JSONResponse(sb.render.member_info(sb.members[member]))


async def list_members(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    with sb.lock:
        return JSONResponse([sb.render.member(m) for m in sb.members.values()])


async def list_groups(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    with sb.lock:
        return JSONResponse([sb.render.group(g) for g in sb.groups.values()])


async def list_workflows(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    with sb.lock:
        return JSONResponse([sb.render.workflow(w) for w in sb.workflows.values()])


async def create_story(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    data = await body_object(request)
    name = _text(data, "name", required=True, limit=512)
    description = _text(data, "description") or ""
    story_type = data.get("story_type", "feature")
    if story_type not in ("feature", "bug", "chore"):
        raise mismatch("story_type", '(not (#{"feature" "bug" "chore"} a-string))')
    links = data.get("external_links", [])
    if not isinstance(links, list) or not all(isinstance(v, str) for v in links):
        raise mismatch("external_links", "(not (sequential? [string]))")
    labels = data.get("labels", [])
    if not isinstance(labels, list) or not all(
        isinstance(v, dict) and isinstance(v.get("name"), str) and 0 < len(v["name"]) <= 128 for v in labels
    ):
        raise mismatch("labels", "(not (sequential? [{:name string}]))")
    group_id = data.get("group_id")
    with sb.lock:
        if group_id is not None and group_id not in sb.groups:
            raise ApiError(422, "Unprocessable", errors={"group_id": "no such team"})
        state = (
            _state_id(sb, data["workflow_state_id"]) if data.get("workflow_state_id") is not None else None
        )
        owners = _owners(sb, data["owner_ids"]) if "owner_ids" in data else []
        assert name is not None
        story = sb.create_story(
            member,
            name,
            description,
            str(story_type),
            state,
            group_id,
            owners,
            links,
            [v["name"] for v in labels],
        )
        return JSONResponse(sb.render.story(story), 201)


async def get_story(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    with sb.lock:
        return JSONResponse(sb.render.story(sb.story_for(request.path_params["id"])))


async def update_story(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    data = await body_object(request)
    changes: dict[str, Any] = {}
    for field, limit in (("name", 512), ("description", 100_000)):
        if field in data:
            changes[field] = _text(data, field, required=field == "name", limit=limit) or ""
    with sb.lock:
        if "workflow_state_id" in data:
            changes["workflow_state_id"] = _state_id(sb, data["workflow_state_id"])
        if "owner_ids" in data:
            changes["owner_ids"] = _owners(sb, data["owner_ids"])
        story = sb.update_story(sb.story_for(request.path_params["id"]), member, changes)
        return JSONResponse(sb.render.story(story))


async def delete_story(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    with sb.lock:
        sb.delete_story(sb.story_for(request.path_params["id"]), member)
    return Response(status_code=204)


async def comments(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    if request.method == "GET":
        with sb.lock:
            story = sb.story_for(request.path_params["id"])
            return JSONResponse([sb.render.comment(story, c) for c in story.comments])
    data = await body_object(request)
    text = _text(data, "text", required=True)
    assert text is not None
    with sb.lock:
        story = sb.story_for(request.path_params["id"])
        comment = sb.add_comment(story, member, text)
        return JSONResponse(sb.render.comment(story, comment), 201)


async def query_stories(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    """`POST /stories/search`: filters in the body, every match in one list (no pages)."""
    data = await body_object(request)
    bounds = {}
    for field in ("updated_at_start", "updated_at_end", "created_at_start", "created_at_end"):
        if data.get(field) is not None:
            try:
                bounds[field] = parse_time(str(data[field]))
            except ValueError:
                raise mismatch(field, "(not (instance? java.util.Date a-date))") from None
    types = data.get("workflow_state_types")
    group_ids = data.get("group_ids") or ([data["group_id"]] if data.get("group_id") else None)
    with sb.lock:
        found = []
        for story in sb.stories.values():
            state = sb.state(story.workflow_state_id)
            if (
                story.deleted
                or ("archived" in data and bool(data["archived"]) != story.archived)
                or ("updated_at_start" in bounds and story.updated_at < bounds["updated_at_start"])
                or ("updated_at_end" in bounds and story.updated_at > bounds["updated_at_end"])
                or ("created_at_start" in bounds and story.created_at < bounds["created_at_start"])
                or ("created_at_end" in bounds and story.created_at > bounds["created_at_end"])
                or (isinstance(types, list) and (state is None or state[1].type not in types))
                or (group_ids is not None and story.group_id not in group_ids)
                or (data.get("workflow_state_id") not in (None, story.workflow_state_id))
            ):
                continue
            found.append(story)
        return JSONResponse([sb.render.story(s, slim=True) for s in found[:QUERY_MAX]])


async def search_stories(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    """`GET /search/stories?query=...`: pages of at most 25, `next` is the path of the next page."""
    q = request.query_params
    query = q.get("query", "")
    if not query.strip():
        raise ApiError(400, "Schema mismatch", errors={"query": "missing-required-key"})
    try:
        size = int(q.get("page_size", "25"))
        offset = int(q.get("next", "0") or 0)
    except ValueError:
        raise mismatch("page_size", "(not (integer? a-string))") from None
    if not 1 <= size <= SEARCH_PAGE_MAX:
        raise mismatch("page_size", f"(not (<= 1 a-int {SEARCH_PAGE_MAX}))")
    try:
        parsed = parse_query(query)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    with sb.lock:
        hits = [
            s
            for s in sorted(sb.stories.values(), key=lambda s: s.updated_at, reverse=True)
            if not s.deleted and matches(parsed, sb, s)
        ]
        page = hits[offset : offset + size]
        slim = q.get("detail") == "slim"
        more = offset + size < len(hits)
        following = {"query": query, "page_size": size, "next": offset + size}
        if q.get("detail"):
            following["detail"] = q["detail"]
        body = {
            "data": [sb.render.story(s, slim=slim) for s in page],
            "next": f"/api/v3/search/stories?{urlencode(following)}" if more else None,
            "total": len(hits),
        }
        return JSONResponse(body)


async def create_webhook(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    data = await body_object(request)
    url = data.get("webhook_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2048:
        raise mismatch("webhook_url", '(not (re-matches #"^https?://.+$" a-string))')
    secret = data.get("secret")
    if secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 128):
        raise mismatch("secret", "(not (string? a-string-of-1-to-128))")
    if sb.members[member].role not in ("owner", "admin", "member"):
        raise ApiError(403, "Observers may not create integrations.")
    hook = sb.add_webhook(url, secret, member)
    return JSONResponse(sb.render.webhook(hook), 201)


async def webhook(request: Request, sb: ShortcutSandbox, member: str) -> Response:
    try:
        hook_id = int(request.path_params["id"])
    except ValueError:
        hook_id = -1
    with sb.lock:
        hook = sb.webhooks.get(hook_id)
        if hook is None:
            raise ApiError(404, "Resource not found.")
        if request.method == "DELETE":
            del sb.webhooks[hook_id]
            return Response(status_code=204)
        return JSONResponse(sb.render.webhook(hook))


def rest_routes() -> list[BaseRoute]:
    story = "/stories/{id}"
    return [
        Route("/member", rest(current_member), methods=["GET"], name="member.current"),
        Route("/members", rest(list_members), methods=["GET"], name="members.list"),
        Route("/groups", rest(list_groups), methods=["GET"], name="groups.list"),
        Route("/workflows", rest(list_workflows), methods=["GET"], name="workflows.list"),
        Route("/stories", rest(create_story), methods=["POST"], name="stories.create"),
        Route("/stories/search", rest(query_stories), methods=["POST"], name="stories.query"),
        Route(story, rest(get_story), methods=["GET"], name="stories.get"),
        Route(story, rest(update_story), methods=["PUT"], name="stories.update"),
        Route(story, rest(delete_story), methods=["DELETE"], name="stories.delete"),
        Route(story + "/comments", rest(comments), methods=["GET"], name="comments.list"),
        Route(story + "/comments", rest(comments), methods=["POST"], name="comments.create"),
        Route("/search/stories", rest(search_stories), methods=["GET"], name="search.stories"),
        Route("/integrations/webhook", rest(create_webhook), methods=["POST"], name="webhooks.create"),
        Route("/integrations/webhook/{id}", rest(webhook), methods=["GET", "DELETE"], name="webhooks.one"),
    ]


def routes() -> list[BaseRoute]:
    return [
        Mount(
            "/oauth-authorization-code-flow",
            routes=[
                Route("/code", authorize, methods=["GET"], name="oauth.authorize"),
                Route("/token", token, methods=["POST"], name="oauth.token"),
            ],
        ),
        Mount("/api/v3", routes=rest_routes()),
    ]
