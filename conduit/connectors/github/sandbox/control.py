"""`/_sandbox` routes of the GitHub sandbox: set up users and repos, and act as a person on GitHub.

A person's change sends the same webhooks as a change through the API. Every action answers with the
issue as the API shows it and the ids of the deliveries it caused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from conduit.connectors.github.sandbox.model import Issue, Repo
from conduit.connectors.github.sandbox.sandbox import GitHubSandbox
from conduit.connectors.sandbox.control import ControlError, control_json, opt, req
from conduit.connectors.sandbox.core import ApiError

Action = Callable[[GitHubSandbox, Repo, Issue | None, str, dict[str, Any]], Issue]


def sandbox_of(request: Request) -> GitHubSandbox:
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, GitHubSandbox)
    return sandbox


async def add_user(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    user = sb.add_user(
        req(data, "login", str),
        opt(data, "name", str),
        opt(data, "email", str),
        bool(opt(data, "public_email", bool, True)),
    )
    return JSONResponse(sb.render.user(user.login, full=True), 201)


async def add_repo(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    try:
        repo = sb.add_repo(
            req(data, "full_name", str),
            bool(opt(data, "private", bool, False)),
            opt(data, "collaborators", list),
        )
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    return JSONResponse(sb.render.repo(repo), 201)


async def set_rate_limit(request: Request) -> Response:
    sb, data = sandbox_of(request), await control_json(request)
    if "limit" in data:
        sb.rate_limit = req(data, "limit", int)
    if "window" in data:
        sb.rate_window = float(req(data, "window", (int, float)))
    if data.get("reset"):
        sb.reset_budgets()
    return JSONResponse({"limit": sb.rate_limit, "window": sb.rate_window})


async def add_hook(request: Request) -> Response:
    """A hook a person made in the repository settings (when the app may not create one itself)."""
    sb, data = sandbox_of(request), await control_json(request)
    with sb.lock:
        repo = _repo(sb, request)
        hook = sb.add_hook(
            repo,
            req(data, "url", str),
            opt(data, "content_type", str, "json"),
            opt(data, "secret", str),
            opt(data, "events", list, ["issues", "issue_comment"]),
            True,
        )
        return JSONResponse(sb.render.hook(hook), 201)


def _repo(sb: GitHubSandbox, request: Request) -> Repo:
    name = f"{request.path_params['owner']}/{request.path_params['repo']}"
    repo = sb.repos.get(name)
    if repo is None:
        raise ControlError(f"no repository {name}", 404)
    return repo


def act(action: Action, needs_issue: bool = True) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sb, data = sandbox_of(request), await control_json(request)
        actor = opt(data, "user", str) or sb.human
        if actor not in sb.users:
            raise ControlError(f"unknown user {actor!r}")
        with sb.lock:
            repo = _repo(sb, request)
            issue = None
            if needs_issue:
                issue = sb.issues.get((repo.full_name, request.path_params["number"]))
                if issue is None or issue.deleted:
                    raise ControlError("no such issue (or it was deleted)", 404)
            first = len(sb.outbox.deliveries)
            try:
                result = action(sb, repo, issue, actor, data)
            except ApiError as exc:
                raise ControlError(f"{exc.message}: {exc.errors}" if exc.errors else exc.message) from None
            caused = [d.id for d in sb.outbox.list()[first:]]
            return JSONResponse(
                {"issue": sb.render.issue(result), "deliveries": caused}, 201 if not needs_issue else 200
            )

    return endpoint


def _open(sb: GitHubSandbox, repo: Repo, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    return sb.create_issue(
        repo,
        actor,
        req(data, "title", str),
        opt(data, "body", str),
        opt(data, "assignees", list),
        opt(data, "labels", list),
        bool(opt(data, "pull_request", bool, False)),
    )


def _close(sb: GitHubSandbox, repo: Repo, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    reason = opt(data, "state_reason", str, "completed")
    if reason not in ("completed", "not_planned", "duplicate"):
        raise ControlError("`state_reason` must be completed, not_planned or duplicate")
    return sb.update_issue(repo, issue, actor, {"state": "closed", "state_reason": reason})


def _reopen(sb: GitHubSandbox, repo: Repo, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    return sb.update_issue(repo, issue, actor, {"state": "open"})


def _edit(sb: GitHubSandbox, repo: Repo, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    changes: dict[str, Any] = {k: opt(data, k, str) for k in ("title", "body") if k in data}
    if not changes:
        raise ControlError("give `title` and/or `body`")
    return sb.update_issue(repo, issue, actor, changes)


def _assign(sb: GitHubSandbox, repo: Repo, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    return sb.update_issue(repo, issue, actor, {"assignees": req(data, "assignees", list)})


def _comment(sb: GitHubSandbox, repo: Repo, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    sb.add_comment(repo, issue, actor, req(data, "body", str))
    return issue


def _delete(sb: GitHubSandbox, repo: Repo, issue: Issue | None, actor: str, data: dict[str, Any]) -> Issue:
    assert issue is not None
    sb.delete_issue(repo, issue, actor)
    return issue


def routes() -> list[BaseRoute]:
    issue = "/repos/{owner}/{repo}/issues/{number:int}"
    return [
        Route("/users", add_user, methods=["POST"]),
        Route("/repos", add_repo, methods=["POST"]),
        Route("/ratelimit", set_rate_limit, methods=["PUT"]),
        Route("/repos/{owner}/{repo}/hooks", add_hook, methods=["POST"]),
        Route("/repos/{owner}/{repo}/issues", act(_open, needs_issue=False), methods=["POST"]),
        Route(issue + "/close", act(_close), methods=["POST"]),
        Route(issue + "/reopen", act(_reopen), methods=["POST"]),
        Route(issue + "/edit", act(_edit), methods=["POST"]),
        Route(issue + "/assign", act(_assign), methods=["POST"]),
        Route(issue + "/comment", act(_comment), methods=["POST"]),
        Route(issue, act(_delete), methods=["DELETE"]),
    ]
