"""What a field's selection asks for further down, read from the document before its children run.

A resolver that loads a list can then load what every item will ask for in the same turn (one batch,
awaited once), so that the items complete synchronously: an item whose fields are all ready costs
graphql-core no task of its own, while one with a pending field costs a task per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)

from conduit.schema.context import Info

T = TypeVar("T")
R = TypeVar("R")


def now_or_later(pending: Awaitable[T], convert: Callable[[T], R]) -> R | Awaitable[R]:
    """`convert` of a DataLoader's answer: at once when the loader has it already (a done future),
    else an awaitable of it. A plain resolver returning this costs no task when the answer is ready."""
    if isinstance(pending, asyncio.Future) and pending.done():
        return convert(pending.result())  # raises the load's error, as awaiting it would
    return _later(pending, convert)


async def _later(pending: Awaitable[T], convert: Callable[[T], R]) -> R:
    return convert(await pending)


def asks_for_in_page(info: Info, field: str) -> bool:
    """Whether a connection field's selection asks for `field` of its nodes (`edges.node` or `nodes`)."""
    return asks_for(info, "edges", "node", field) or asks_for(info, "nodes", field)


def asks_for(info: Info, *path: str) -> bool:
    """Whether the current field's selection reaches the fields `path` (schema names, whatever the
    aliases), through fragments. `@skip`/`@include` are not evaluated: a yes may be a field that will
    not run, which costs a load that nobody reads, never a wrong answer."""
    raw = info._raw_info
    selections = [s for node in raw.field_nodes if node.selection_set for s in node.selection_set.selections]
    return _reaches(selections, path, raw.fragments, set())


def _reaches(
    selections: Iterable[SelectionNode],
    path: tuple[str, ...],
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> bool:
    if not path:
        return True
    for selection in selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == path[0] and (
                len(path) == 1
                or (
                    selection.selection_set is not None
                    and _reaches(selection.selection_set.selections, path[1:], fragments, seen)
                )
            ):
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _reaches(selection.selection_set.selections, path, fragments, seen):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            # A fragment spread twice on one level is the same selection; validation refuses cycles,
            # but the walk does not rely on it.
            fragment = fragments.get(name)
            if (
                fragment is not None
                and name not in seen
                and _reaches(fragment.selection_set.selections, path, fragments, seen | {name})
            ):
                return True
    return False
