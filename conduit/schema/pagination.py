"""Relay connections over keyset pagination: stable under inserts, cheap at any depth.

Arguments are checked before any query is built: `first` is within 0..MAX_PAGE, and a cursor decodes to
exactly what `SortKey.encode` made for that list — its tag, a value of the sort column's type (an aware
datetime, an int within BIGINT, or a string) and a pk within 1..2**63-1. Anything else is a BAD_USER_INPUT
error ("invalid cursor", or the argument and its range), never a database error.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from conduit.ids import MAX_PK
from conduit.schema.errors import BadInput

T = TypeVar("T")
M = TypeVar("M")

MAX_PAGE = 100
DEFAULT_PAGE = 25
# Cursors we make are well under this; a longer one is not ours.
MAX_CURSOR_LENGTH = 512
MIN_BIGINT = -(2**63)

# A decoded cursor: the sort column's value and the row's pk.
Position = tuple[Any, int]


class InvalidCursor(BadInput):
    def __init__(self, cursor: object) -> None:
        shown = repr(cursor) if len(repr(cursor)) <= 80 else repr(cursor)[:77] + "..."
        super().__init__(
            f"invalid cursor: {shown} is not a cursor of this list; pass an endCursor it returned",
            argument="after",
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    rows: Sequence[M]
    has_next: bool


@dataclass(frozen=True, slots=True)
class SortKey:
    """A sort column, descending or not, always tie-broken by id in the same direction."""

    column: InstrumentedAttribute[Any]
    id_column: InstrumentedAttribute[Any]
    descending: bool = True
    is_datetime: bool = False

    @property
    def tag(self) -> str:
        """Names the list a cursor belongs to, so one list's cursor is refused by another."""
        return f"{self.column.class_.__tablename__}.{self.column.key}"

    def order_by(self) -> list[ColumnElement[Any]]:
        if self.descending:
            return [self.column.desc(), self.id_column.desc()]
        return [self.column.asc(), self.id_column.asc()]

    def values(self, row: Any) -> tuple[Any, int]:
        return getattr(row, self.column.key), getattr(row, self.id_column.key)

    def encode(self, row: Any) -> str:
        value, pk = self.values(row)
        if isinstance(value, datetime):
            value = value.isoformat()
        return base64.urlsafe_b64encode(orjson.dumps([self.tag, value, pk])).decode()

    def decode(self, cursor: str) -> Position:
        """The position a cursor of this list stands for; `InvalidCursor` for anything else."""
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise InvalidCursor(cursor)
        try:
            decoded = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        except (binascii.Error, orjson.JSONDecodeError, ValueError):
            raise InvalidCursor(cursor) from None
        if not isinstance(decoded, list) or len(decoded) != 3 or decoded[0] != self.tag:
            raise InvalidCursor(cursor)
        _, raw, pk = decoded
        if not _is_int(pk) or not 1 <= pk <= MAX_PK:
            raise InvalidCursor(cursor)
        value = self._value(raw)
        if value is None:
            raise InvalidCursor(cursor)
        return value, pk

    def _value(self, raw: Any) -> Any:
        """The column value a cursor carries, checked against the column's type; None when it does not fit."""
        if self.is_datetime:
            if not isinstance(raw, str):
                return None
            try:
                value = datetime.fromisoformat(raw)
                # The columns hold aware UTC datetimes; a naive one cannot be compared with them, and
                # an offset that takes the instant past year 1 or 9999 cannot be stored as one.
                return value.astimezone(UTC) if value.tzinfo is not None else None
            except (ValueError, OverflowError):
                return None
        python_type = self.column.type.python_type
        if python_type is int:
            return raw if _is_int(raw) and MIN_BIGINT <= raw <= MAX_PK else None
        if python_type is str:
            return raw if isinstance(raw, str) else None
        return None

    def where_after(self, position: Position) -> ColumnElement[bool]:
        value, pk = position
        if self.descending:
            return or_(self.column < value, and_(self.column == value, self.id_column < pk))
        return or_(self.column > value, and_(self.column == value, self.id_column > pk))

    def after(self, cursor: str) -> ColumnElement[bool]:
        return self.where_after(self.decode(cursor))


def _is_int(value: Any) -> bool:
    # JSON `true` decodes to a bool, which is an int to Python but not a position.
    return isinstance(value, int) and not isinstance(value, bool)


def page_size(first: int | None) -> int:
    """How many rows a page holds: `first`, checked, or the default."""
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise BadInput(f"`first` must be between 0 and {MAX_PAGE}; got {first}", argument="first")
    return first


def position(sort: SortKey, after: str | None) -> Position | None:
    """The decoded `after` argument, or None when it was not given."""
    return None if after is None else sort.decode(after)


def connection(page: Page[M], sort: SortKey, to_node: Callable[[M], T]) -> Connection[T]:
    edges = [Edge(cursor=sort.encode(row), node=to_node(row)) for row in page.rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None),
    )
