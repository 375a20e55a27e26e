"""Relay connections over keyset pagination: stable under inserts, cheap at any depth."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")
M = TypeVar("M")

MAX_PAGE = 100
DEFAULT_PAGE = 25


class InvalidCursor(ValueError):
    pass


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
        return base64.urlsafe_b64encode(orjson.dumps([value, pk])).decode()

    def decode(self, cursor: str) -> tuple[Any, int]:
        try:
            value, pk = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
            if self.is_datetime:
                value = datetime.fromisoformat(value)
            if not isinstance(pk, int):
                raise TypeError
        except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
            raise InvalidCursor(f"{cursor!r} is not a cursor of this list") from exc
        return value, pk

    def after(self, cursor: str) -> ColumnElement[bool]:
        value, pk = self.decode(cursor)
        if self.descending:
            return or_(self.column < value, and_(self.column == value, self.id_column < pk))
        return or_(self.column > value, and_(self.column == value, self.id_column > pk))


def clamp_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0:
        raise ValueError("`first` cannot be negative")
    return min(first, MAX_PAGE)


def connection(page: Page[M], sort: SortKey, to_node: Callable[[M], T]) -> Connection[T]:
    edges = [Edge(cursor=sort.encode(row), node=to_node(row)) for row in page.rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None),
    )
