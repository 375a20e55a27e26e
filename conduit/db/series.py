"""Time series read from rows on both databases: a fixed grid of buckets and the percentiles in each.

The grid is aligned on multiples of its step since the Unix epoch, so a bucket has the same bounds on
every read and in every process, and a chart refreshed a minute later shifts by whole buckets; the last
bucket is the one in progress. A row belongs to the bucket its time falls in, start inclusive and end
exclusive. The bucket of a row is computed in SQL from whole seconds (`Grid.bucket`): the grid's bounds
are whole seconds, so dropping a row's fraction of a second never moves it across a bound.

Percentiles interpolate linearly between the closest ranks. PostgreSQL computes them in the query with
`percentile_cont`; SQLite has no such aggregate, so the values are read in order and `percentile` does
the same arithmetic in Python. `percentiles` picks the way from the session's dialect, and both give
the same answer for the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, cast, extract, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

QUANTILES = (0.5, 0.95)


@dataclass(frozen=True, slots=True)
class Grid:
    start: datetime
    step: timedelta
    count: int

    @classmethod
    def ending_now(cls, now: datetime, span: timedelta, step: timedelta) -> Grid:
        """`span / step` buckets, the last of which holds `now`."""
        seconds = _whole_seconds(step)
        count = int(span / step)
        if count < 1 or count * step != span:
            raise ValueError(f"a span of {span} is not a whole number of {step} buckets")
        end = (int(now.timestamp()) // seconds + 1) * seconds
        return cls(datetime.fromtimestamp(end - count * seconds, UTC), step, count)

    @property
    def end(self) -> datetime:
        return self.start + self.step * self.count

    @property
    def step_seconds(self) -> int:
        return _whole_seconds(self.step)

    def starts(self) -> list[datetime]:
        return [self.start + self.step * i for i in range(self.count)]

    def index(self, moment: datetime) -> int:
        return int((moment - self.start) // self.step)

    def within(self, column: Any) -> ColumnElement[bool]:
        return (column >= self.start) & (column < self.end)

    def bucket(self, column: Any, dialect: str) -> ColumnElement[int]:
        """The bucket index of `column`, for rows `within` the grid.

        The numbers are the grid's own, never the caller's, so they are written into the SQL: a bind
        parameter would make PostgreSQL see the expression in GROUP BY as a different one.
        """
        origin = literal_column(str(int(self.start.timestamp())), Integer)
        step = literal_column(str(self.step_seconds), Integer)
        if dialect == "postgresql":
            return cast(func.floor((extract("epoch", column) - origin) / step), Integer)
        # SQLite reads a fraction of a second to the millisecond, rounding: 12:04:59.9999 would be
        # 12:05:00. The text is cut at the seconds first (SQLAlchemy writes 'YYYY-MM-DD HH:MM:SS.ffffff').
        # Integers divide as integers, and rows within the grid are never before its start.
        seconds = cast(func.strftime(literal_column("'%s'"), func.substr(column, 1, 19)), Integer)
        return (seconds - origin) // step


def _whole_seconds(step: timedelta) -> int:
    seconds = int(step.total_seconds())
    if seconds < 1 or timedelta(seconds=seconds) != step:
        raise ValueError(f"a bucket is a whole number of seconds, not {step}")
    return seconds


def percentile(sorted_values: Sequence[int], q: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont does."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


Quantiles = dict[int, tuple[float | None, ...]]


async def percentiles(
    session: AsyncSession,
    grid: Grid,
    time: Any,
    value: Any,
    where: Sequence[ColumnElement[bool]],
    quantiles: Sequence[float] = QUANTILES,
) -> Quantiles:
    """Per bucket index, the `quantiles` of `value` over the rows matching `where` within the grid."""
    dialect = session.get_bind().dialect.name
    bucket = grid.bucket(time, dialect).label("bucket")
    if dialect == "postgresql":
        stmt: Select[Any] = (
            select(bucket, *(func.percentile_cont(q).within_group(value) for q in quantiles))
            .where(grid.within(time), *where)
            .group_by(bucket)
        )
        return {int(row[0]): tuple(_float(v) for v in row[1:]) for row in await session.execute(stmt)}
    out: Quantiles = {}
    current: int | None = None
    values: list[int] = []
    stmt = select(bucket, value).where(grid.within(time), *where).order_by(bucket, value)
    # Streamed: a busy week is many rows, and only one bucket's values are held at a time.
    async for index, v in await session.stream(stmt):
        if index != current:
            if current is not None:
                out[current] = tuple(percentile(values, q) for q in quantiles)
            current, values = int(index), []
        values.append(int(v))
    if current is not None:
        out[current] = tuple(percentile(values, q) for q in quantiles)
    return out


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
