"""Linear's GraphQL over the one road out: the operations Conduit sends, and what a reply means.

Linear answers a GraphQL error as a document with `errors[]`, and often not with the HTTP status a
REST API would use: a missing issue is an error inside an HTTP 200, an exhausted rate limit an HTTP
400 whose error says `RATELIMITED`, a refused token an HTTP 401. `check` reads the document first
and the status second, so each becomes the shared error it means (`conduit.connectors.errors`): a
rate limit waits, a refused token is renewed once and tried again, a missing issue is NotFound.

Every operation is named: the name is what Linear's logs (and the sandbox's fault `match`) know it by.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from conduit.connectors.api import Api
from conduit.connectors.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    TrackerError,
    Unauthorized,
    Unavailable,
    one_line,
)
from conduit.connectors.http import MAX_TRACKER_MESSAGE, Reply, default_check, retry_delay

PATH = "/graphql"
# What a ticket record is read from, wherever an issue is selected.
ISSUE_FIELDS = """
    id identifier number title url updatedAt archivedAt trashed
    state { id name type }
    assignee { id name displayName email }
    team { id key }
"""
STATE_FIELDS = "id name type position"

VIEWER = "query Viewer { viewer { id name email organization { id name urlKey } } }"
TEAM_BY_KEY = f"""query TeamByKey($key: String!) {{
  teams(filter: {{key: {{eq: $key}}}}, first: 1) {{
    nodes {{ id key name states {{ nodes {{ {STATE_FIELDS} }} }} }}
  }}
}}"""
TEAM_STATES = f"""query TeamStates($keys: [String!]!) {{
  teams(filter: {{key: {{in: $keys}}}}, first: 50) {{
    nodes {{ key states {{ nodes {{ {STATE_FIELDS} }} }} }}
  }}
}}"""
ISSUE_CREATE = f"""mutation IssueCreate($input: IssueCreateInput!) {{
  issueCreate(input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }}
}}"""
LABELS = """query Labels($names: [String!]!) {
  issueLabels(filter: {name: {in: $names}}, first: 250) { nodes { id name team { id } } }
}"""
LABEL_CREATE = """mutation LabelCreate($input: IssueLabelCreateInput!) {
  issueLabelCreate(input: $input) { success issueLabel { id name } }
}"""
ATTACHMENT_CREATE = f"""mutation AttachmentCreate($input: AttachmentCreateInput!) {{
  attachmentCreate(input: $input) {{ success attachment {{ id url issue {{ {ISSUE_FIELDS} }} }} }}
}}"""
ISSUE_GET = f"""query IssueGet($id: String!) {{
  issue(id: $id) {{ {ISSUE_FIELDS} }}
}}"""
ISSUE_STATES = f"""query IssueStates($id: String!) {{
  issue(id: $id) {{ {ISSUE_FIELDS} team {{ states {{ nodes {{ {STATE_FIELDS} }} }} }} }}
}}"""
ISSUE_UPDATE = f"""mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) {{
  issueUpdate(id: $id, input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }}
}}"""
ISSUES = f"""query Issues($filter: IssueFilter!, $first: Int!, $after: String) {{
  issues(filter: $filter, first: $first, after: $after, includeArchived: true, orderBy: updatedAt) {{
    nodes {{ {ISSUE_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
SEARCH = f"""query IssueSearch($term: String!, $filter: IssueFilter!, $first: Int!) {{
  searchIssues(term: $term, filter: $filter, first: $first) {{ nodes {{ {ISSUE_FIELDS} }} }}
}}"""
USER_BY_EMAIL = """query UserByEmail($email: String!) {
  users(filter: {email: {eqIgnoreCase: $email}}, first: 2) { nodes { id email } }
}"""
COMMENT_CREATE = """mutation CommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id url } }
}"""
WEBHOOK_CREATE = """mutation WebhookCreate($input: WebhookCreateInput!) {
  webhookCreate(input: $input) { success webhook { id enabled } }
}"""
WEBHOOK_DELETE = """mutation WebhookDelete($id: String!) {
  webhookDelete(id: $id) { success }
}"""


def errors_of(data: Any) -> list[dict[str, Any]]:
    errors = data.get("errors") if isinstance(data, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _extensions(error: Mapping[str, Any]) -> Mapping[str, Any]:
    extensions = error.get("extensions")
    return extensions if isinstance(extensions, dict) else {}


def _message(reply: Reply, errors: list[dict[str, Any]]) -> str:
    """`HTTP <status>: <Linear's words>`: the user-presentable message where there is one."""
    words = "; ".join(
        str(_extensions(e).get("userPresentableMessage") or e.get("message") or "") for e in errors
    )
    words = one_line(words, MAX_TRACKER_MESSAGE)
    return f"HTTP {reply.status}: {words}" if words else f"HTTP {reply.status}"


def _reset_delay(reply: Reply, now: float) -> float | None:
    """Seconds until `X-RateLimit-Requests-Reset` (epoch milliseconds) when no requests are left."""
    remaining = reply.headers.get("x-ratelimit-requests-remaining")
    reset = reply.headers.get("x-ratelimit-requests-reset")
    if reset is None or (remaining is not None and remaining.strip() not in ("0", "")):
        return None
    try:
        return max(float(reset) / 1000 - now, 0.0)
    except ValueError:
        return None


def check(api: Api) -> Any:
    """The reply check for a GraphQL call of `api`'s installation."""
    limits = api.provider.rate_limit
    fallback = default_check(limits)

    def read(reply: Reply) -> TrackerError | None:
        errors = errors_of(reply.data)
        codes = {str(_extensions(e).get("code") or "").upper() for e in errors}
        types = {str(_extensions(e).get("type") or "").lower() for e in errors}
        status = reply.status
        if not errors:
            problem = fallback(reply)
            if problem is not None:
                return problem
            data = reply.data.get("data") if isinstance(reply.data, dict) else None
            if not isinstance(data, dict):
                return InvalidRequest(f"HTTP {status}: Linear answered without data", status=status)
            return None
        message = _message(reply, errors)
        if status == 429 or "RATELIMITED" in codes or "ratelimited" in types:
            delay = retry_delay(reply.headers, limits)
            delay = delay if delay is not None else _reset_delay(reply, time.time())
            return RateLimited(message, limits.fallback if delay is None else delay, status=status)
        if status == 401 or "AUTHENTICATION_ERROR" in codes or "authentication error" in types:
            # An Unauthorized makes the one road out renew the token and try once more.
            return Unauthorized(message, status=status)
        if status == 403 or "FORBIDDEN" in codes or "forbidden" in types:
            return Forbidden(message, status=status)
        if any(str(e.get("message") or "").startswith("Entity not found") for e in errors):
            return NotFound(message, status=status)
        if status >= 500 or "internal error" in types or "INTERNAL_SERVER_ERROR" in codes:
            return Unavailable(message, status=status)
        return InvalidRequest(message, status=status)

    return read


async def call(api: Api, operation: str, document: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Send one GraphQL operation; returns its `data`, or raises what the reply's errors mean."""
    reply = await api.http.request(
        api.target,
        operation,
        "POST",
        api.endpoints.api.rstrip("/") + PATH,
        template=PATH,
        limits=api.provider.rate_limit,
        auth=api.auth,
        headers=api.provider.api_headers,
        json={"query": document, "variables": dict(variables)},
        check=check(api),
        token_header=(api.provider.token_header, api.provider.token_prefix),
    )
    data: dict[str, Any] = reply.data["data"]
    return data
