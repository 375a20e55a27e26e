"""Pagination arguments are checked before any query: `first` within 0..100, cursors exactly as a list
made them — property-tested on the cursor codec, and over HTTP on every connection of the schema."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
from graphql import GraphQLObjectType
from hypothesis import given
from hypothesis import strategies as st

from conduit import ids
from conduit.resolvers.jobs import JOB_SORT
from conduit.runtime import Runtime
from conduit.schema.deliveries import DELIVERY_SORT
from conduit.schema.issues import COMMENT_SORT
from conduit.schema.loaders import EVENT_SORT, ISSUE_SORTS
from conduit.schema.organization import MEMBER_SORT, PROJECT_SORT, TOKEN_SORT
from conduit.schema.pagination import MAX_PAGE, InvalidCursor, SortKey
from conduit.schema.trackers import INSTALLATION_SORT
from tests.conftest import Tenant
from tests.factories import make_issue
from tests.schema.conftest import _schema

SORTS = [
    *ISSUE_SORTS.values(),
    EVENT_SORT,
    COMMENT_SORT,
    PROJECT_SORT,
    MEMBER_SORT,
    TOKEN_SORT,
    INSTALLATION_SORT,
    JOB_SORT,
    DELIVERY_SORT,
]
AWARE = st.datetimes(timezones=st.just(UTC))
BIGINTS = st.integers(min_value=-(2**63), max_value=ids.MAX_PK)


def cursor_of(*items: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(items))).decode()


@given(st.sampled_from(SORTS), st.data())
def test_round_trip(sort: SortKey, data: st.DataObject) -> None:
    value = data.draw(AWARE if sort.is_datetime else BIGINTS)
    pk = data.draw(st.integers(min_value=1, max_value=ids.MAX_PK))
    if sort.column.key == sort.id_column.key:  # sorted by id alone
        value = pk
    row = SimpleNamespace(**{sort.column.key: value, sort.id_column.key: pk})
    assert sort.decode(sort.encode(row)) == (value, pk)


@given(st.sampled_from(SORTS), st.text(max_size=300))
def test_any_text_is_a_position_or_invalid_cursor(sort: SortKey, text: str) -> None:
    try:
        value, pk = sort.decode(text)
    except InvalidCursor as exc:
        assert exc.message.startswith("invalid cursor")
        assert exc.extensions == {"code": "BAD_USER_INPUT", "argument": "after"}
        return
    assert 1 <= pk <= ids.MAX_PK and value is not None


@given(st.sampled_from(SORTS), st.lists(st.none() | st.booleans() | st.integers() | st.floats() | st.text()))
def test_any_json_list_is_a_position_or_invalid_cursor(sort: SortKey, items: list[Any]) -> None:
    for candidate in (items, [sort.tag, *items]):
        try:
            text = cursor_of(*candidate)
        except orjson.JSONEncodeError:  # integers past 64 bits
            continue
        try:
            value, pk = sort.decode(text)
        except InvalidCursor:
            continue
        assert isinstance(pk, int) and 1 <= pk <= ids.MAX_PK
        if sort.is_datetime:
            assert isinstance(value, datetime) and value.tzinfo is not None


def test_tampered_and_foreign_cursors_are_refused() -> None:
    sort = ISSUE_SORTS["last_seen"]
    now = datetime.now(UTC).isoformat()
    for cursor in [
        cursor_of(sort.tag, now, 2**63),  # pk past BIGINT
        cursor_of(sort.tag, now, 0),
        cursor_of(sort.tag, now, True),
        cursor_of(sort.tag, datetime(2026, 1, 1).isoformat(), 1),  # naive
        cursor_of(sort.tag, "0001-01-01T00:00:00+05:00", 1),  # before year 1 in UTC
        cursor_of(sort.tag, 12, 1),  # a count where a time belongs
        cursor_of(ISSUE_SORTS["count"].tag, 12, 1),  # another list's cursor
        cursor_of(now, 1),  # the untagged form
        cursor_of(ISSUE_SORTS["count"].tag, 2**63, 1),
    ]:
        try:
            sort.decode(cursor)
        except InvalidCursor:
            continue
        raise AssertionError(f"{orjson.loads(base64.urlsafe_b64decode(cursor))} was accepted")
    assert ISSUE_SORTS["count"].decode(cursor_of(ISSUE_SORTS["count"].tag, 12, 1)) == (12, 1)


# One query per connection; the walk below checks none is missing.
CONNECTIONS: dict[tuple[str, str], str] = {
    ("Organization", "projects"): "{ organization { projects(%s) { nodes { id } } } }",
    ("Organization", "members"): "{ organization { members(%s) { nodes { id } } } }",
    ("Organization", "installations"): "{ organization { installations(%s) { nodes { id } } } }",
    ("Organization", "apiTokens"): "{ organization { apiTokens(%s) { nodes { id } } } }",
    ("Project", "issues"): 'query { project(id: "$project") { issues(%s) { nodes { id } } } }',
    ("Issue", "events"): 'query { issue(id: "$issue") { events(%s) { nodes { id } } } }',
    ("Issue", "comments"): 'query { issue(id: "$issue") { comments(%s) { nodes { id } } } }',
    ("Query", "jobs"): "{ jobs(%s) { nodes { id } } }",
    ("App", "deliveries"): 'query { app(id: "$app") { deliveries(%s) { nodes { id } } } }',
    ("AppInstallation", "deliveries"): "{ appInstallations { deliveries(%s) { nodes { id } } } }",
    ("Query", "rules"): "{ rules(%s) { nodes { id } } }",
    ("Query", "ruleFirings"): "{ ruleFirings(%s) { nodes { id } } }",
}


def test_every_paginated_field_is_listed() -> None:
    paginated = {
        (type_.name, name)
        for type_ in _schema._schema.type_map.values()
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if "first" in field.args or "after" in field.args
    }
    assert paginated == set(CONNECTIONS)


def _codes(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["extensions"]["code"], e["extensions"].get("argument")) for e in body.get("errors", [])]


async def test_bad_page_arguments_are_clear_errors_over_http(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    async with runtime.sessions() as session:
        issue = await make_issue(session, tenant.organization_id, tenant.project_id, events=2)
        await session.commit()
    client.headers.update(tenant.auth)
    created = await client.post(
        "/graphql",
        json={
            "query": """mutation { createApp(input: {name: "pages", kind: INTERNAL, scopes: ["issue:read"]}) {
                ... on CreateAppPayload { app { id } } } }"""
        },
    )
    fill = {
        "$project": ids.encode("Project", tenant.project_id),
        "$issue": ids.encode("Issue", issue.id),
        "$app": created.json()["data"]["createApp"]["app"]["id"],
    }
    other = cursor_of("some_table.id", 1, 1)
    stale = cursor_of("issue.last_seen", (datetime.now(UTC) - timedelta(days=1)).isoformat(), 2**63)
    for key, template in CONNECTIONS.items():
        query = template
        for name, value in fill.items():
            query = query.replace(name, value)

        async def run(args: str, q: str = query, where: object = key) -> dict[str, Any]:
            r = await client.post("/graphql", json={"query": q % args})
            assert r.status_code == 200, (where, args, r.text)
            return dict(r.json())

        assert "errors" not in await run(f"first: {MAX_PAGE}"), key
        assert "errors" not in await run("first: 0"), key
        for bad in (-1, MAX_PAGE + 1):
            body = await run(f"first: {bad}")
            assert _codes(body) == [("BAD_USER_INPUT", "first")], (key, bad, body)
            assert f"between 0 and {MAX_PAGE}; got {bad}" in body["errors"][0]["message"]
        for cursor in ("garbage", "", "☃", other, stale, "A" * 10_000):
            body = await run(f"after: {orjson.dumps(cursor).decode()}")
            assert _codes(body) == [("BAD_USER_INPUT", "after")], (key, cursor, body)
            assert body["errors"][0]["message"].startswith("invalid cursor"), (key, body)
