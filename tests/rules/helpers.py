"""Steps the rules tests share: rules made over GraphQL, events sent through the real ingest endpoint,
and the firing log read back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from conduit.db.models import ExternalIssue, Issue, IssueLink, RuleFiring
from conduit.ids import encode
from tests.ingest.helpers import event_envelope, exception_event, sentry_auth
from tests.sync.conftest import Conduit, wait_for
from tests.sync.helpers import idle

RULE_FIELDS = "id name enabled trigger threshold windowSeconds target maxTicketsPerHour"
CREATE = f"""
mutation($p: ID!, $i: RuleInput!) {{ createRule(projectId: $p, input: $i) {{ __typename
  ... on RulePayload {{ rule {{ {RULE_FIELDS} }} }}
  ... on ValidationError {{ message field }} ... on UserError {{ message }}
  ... on ForbiddenError {{ requiredScope }} }} }}"""
PREVIEW = """
mutation($p: ID!, $i: RuleInput!, $since: DateTime!) { previewRule(projectId: $p, input: $i, since: $since) {
  __typename
  ... on RulePreview { examined truncated matches { cause action outcome reason ticketTitle issue { id } } }
  ... on ValidationError { message field } ... on UserError { message } } }"""
FIRINGS = """
query($rule: ID, $outcomes: [FiringOutcome!], $first: Int, $after: String) {
  ruleFirings(ruleId: $rule, outcomes: $outcomes, first: $first, after: $after) {
    nodes { id action cause outcome reason count latencyMs issue { id } externalIssue { key } }
    pageInfo { hasNextPage endCursor } } }"""


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def create_rule(conduit: Conduit, **rule: Any) -> dict[str, Any]:
    project = encode("Project", conduit.tenant.project_id)
    made = (await conduit.graphql(CREATE, p=project, i=rule))["createRule"]
    assert made["__typename"] == "RulePayload", made
    return dict(made["rule"])


async def send(conduit: Conduit, events: list[dict[str, Any]], concurrency: int = 8) -> None:
    """Post each event as its own envelope to the real ingest endpoint, a few at a time."""
    url = f"{conduit.url}/api/{conduit.tenant.project_id}/envelope/"
    headers = sentry_auth(conduit.tenant.public_key)
    pending = iter(events)

    async def worker(client: httpx.AsyncClient) -> None:
        for event in pending:
            reply = await client.post(url, content=event_envelope(event), headers=headers)
            assert reply.status_code == 200, reply.text

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))


def error(kind: str, **extra: Any) -> dict[str, Any]:
    """One event of the error `kind` (its type names it, so each kind is its own issue)."""
    return exception_event(kind, f"{kind} happened", **extra)


async def drained(conduit: Conduit, within: float = 60.0) -> None:
    await wait_for(lambda: idle(conduit), "the job queue to drain", within=within)


async def issue_of(conduit: Conduit, kind: str) -> Issue:
    async with conduit.runtime.sessions() as session:
        row = (
            await session.execute(
                select(Issue).where(
                    Issue.project_id == conduit.tenant.project_id, Issue.title.startswith(f"{kind}:")
                )
            )
        ).scalar_one()
        return row


async def tickets_of(conduit: Conduit, issue_id: int) -> list[ExternalIssue]:
    async with conduit.runtime.sessions() as session:
        return list(
            (
                await session.execute(
                    select(ExternalIssue)
                    .join(IssueLink, IssueLink.external_issue_id == ExternalIssue.id)
                    .where(IssueLink.issue_id == issue_id)
                )
            ).scalars()
        )


async def firings_of(conduit: Conduit, rule_gid: str) -> list[dict[str, Any]]:
    """Every firing of a rule, through the API, page by page."""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await conduit.graphql(FIRINGS, rule=rule_gid, first=100, after=after))["ruleFirings"]
        out += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return out
        after = page["pageInfo"]["endCursor"]


async def firing_rows(conduit: Conduit, rule_pk: int) -> list[RuleFiring]:
    async with conduit.runtime.sessions() as session:
        return list(
            (
                await session.execute(
                    select(RuleFiring).where(RuleFiring.rule_id == rule_pk).order_by(RuleFiring.id)
                )
            ).scalars()
        )
