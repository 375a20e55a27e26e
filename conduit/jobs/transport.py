"""How handed-over rows reach a runner. The outbox stays the record; a transport may lose things."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Transport(Protocol):
    async def hand(self, ids: Sequence[int]) -> None:
        """Queue these rows to run; raise if they could not be queued (they are then given back)."""

    async def forget(self, ids: Sequence[int]) -> None:
        """Drop any trace of runs that died holding these rows, so they can be queued again."""

    async def close(self) -> None: ...
