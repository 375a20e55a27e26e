"""A page of issues completes in one go: what its items ask for is loaded by the page's own field, so
graphql-core makes no task per item; plain scalar fields are read without building resolve info, and
still fail exactly as before when their value does not fit."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension

from conduit import ids
from conduit.runtime import Runtime
from conduit.schema import guards
from tests.conftest import Tenant
from tests.factories import make_issue
from tests.schema.conftest import Execute


async def _seed(runtime: Runtime, tenant: Tenant, numbers: range) -> None:
    async with runtime.sessions() as session:
        for n in numbers:
            await make_issue(session, tenant.organization_id, tenant.project_id, title=f"E{n}: x", events=2)
        await session.commit()


@contextmanager
def counting_tasks() -> Iterator[list[int]]:
    """How many tasks the running loop creates meanwhile, counted by its own task factory."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    created = [0]

    def factory(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any) -> Any:
        created[0] += 1
        if previous is not None:
            return previous(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    try:
        yield created
    finally:
        loop.set_task_factory(previous)


PAGES = {
    "edges": """query($p: ID!) { project(id: $p) { issues(first: 50) {
        edges { node { title latestEvent { message } } } } } }""",
    "fragment": """query($p: ID!) { project(id: $p) { issues(first: 50) { edges { node { ...Row } } } } }
        fragment Row on Issue { title ... on Issue { latestEvent { message } } }""",
    "aliased nodes": """query($p: ID!) { project(id: $p) { page: issues(first: 50) {
        nodes { title last: latestEvent { message } } } } }""",
}


def _rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    page = data["project"].get("issues") or data["project"]["page"]
    nodes = [e["node"] for e in page["edges"]] if "edges" in page else page["nodes"]
    return sorted((n["title"], (n.get("latestEvent") or n.get("last") or {})["message"]) for n in nodes)


async def _tasks_per_page(gql: Execute, tenant: Tenant, issues: int) -> dict[str, int]:
    expected = sorted((f"E{n}: x", f"E{n}: x #1") for n in range(issues))
    tasks: dict[str, int] = {}
    for name, query in PAGES.items():
        with counting_tasks() as created:
            data = await gql(tenant.token, query, {"p": ids.encode("Project", tenant.project_id)})
        assert _rows(data) == expected, name
        tasks[name] = created[0]
    return tasks


async def test_a_page_asking_for_latest_events_makes_no_task_per_issue(
    runtime: Runtime, gql: Execute, tenant: Tenant
) -> None:
    await _seed(runtime, tenant, range(3))
    few = await _tasks_per_page(gql, tenant, 3)
    await _seed(runtime, tenant, range(3, 30))
    many = await _tasks_per_page(gql, tenant, 30)
    # The loaders' batches, whatever the page holds (a task of the runtime's own may come in between).
    assert all(many[name] <= few[name] + 2 for name in PAGES), (few, many)


async def test_latest_events_from_a_page_carry_tags_and_the_exception_chain(
    runtime: Runtime, gql: Execute, tenant: Tenant
) -> None:
    await _seed(runtime, tenant, range(2))
    query = """query($p: ID!) { project(id: $p) { issues(first: 1, sort: FIRST_SEEN) { nodes {
        latestEvent { tags { key value } exceptions { type stacktrace { lineno } } stacktrace { function } }
    } } } }"""
    data = await gql(tenant.token, query, {"p": ids.encode("Project", tenant.project_id)})
    event = data["project"]["issues"]["nodes"][0]["latestEvent"]
    assert event["tags"] == [{"key": "n", "value": "1"}]
    assert event["exceptions"][0]["type"].startswith("E") and event["exceptions"][0]["stacktrace"] == [
        {"lineno": 11}
    ]
    assert event["stacktrace"] == [{"function": "main"}]


# --- the short path for scalar fields ---------------------------------------------------------------


@strawberry.enum
class Colour(Enum):
    RED = "red"


@strawberry.type
class Thing:
    name: str
    colour: Colour
    note: str | None
    count: int


class SeesEveryField(SchemaExtension):
    seen: list[str] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        SeesEveryField.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def _schema(*extensions: type[SchemaExtension]) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def things(self) -> list[Thing | None]:
            return [
                # Each entry is an object of its own, nullable: one field's failure nulls its entry only.
                Thing(name="a", colour=Colour.RED, note=None, count=1),
                Thing(name=None, colour=Colour.RED, note="n", count=2),  # type: ignore[arg-type]
                Thing(name="c", colour="mauve", note="n", count=3),  # type: ignore[arg-type]
                Thing(name="d", colour=Colour.RED, note="n", count="many"),  # type: ignore[arg-type]
            ]

    return strawberry.Schema(
        query=Query, extensions=list(extensions), execution_context_class=guards.PacedExecution
    )


async def test_scalar_fields_that_do_not_fit_fail_at_their_own_path() -> None:
    result = await _schema().execute("{ things { name colour note count } }")
    assert result.data is not None
    assert result.data["things"][0] == {"name": "a", "colour": "RED", "note": None, "count": 1}
    # A non-null field holding null nulls its object; a value its type cannot serialize is an error.
    assert result.data["things"][1:] == [None, None, None]
    paths = sorted(tuple(e.path or ()) for e in result.errors or ())
    assert paths == [("things", 1, "name"), ("things", 2, "colour"), ("things", 3, "count")]


async def test_an_extension_that_resolves_fields_still_sees_every_scalar() -> None:
    SeesEveryField.seen = []
    result = await _schema(SeesEveryField).execute("{ things { note } }")
    assert result.errors is None
    assert SeesEveryField.seen == ["things"] + ["note"] * 4
