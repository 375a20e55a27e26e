"""Waking dispatchers right after a transaction that wrote outbox rows commits.

The poll in each dispatcher is the safety net; this hook is what makes hand-over prompt. A job that
waits for work written after it started (a publish job taking the events queued behind it, an
endpoint's drain) listens the same way (`Signal`), and looks as soon as such a commit lands.
A commit in another process wakes nobody here: whoever listens still polls, less often.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

FLAG = "conduit.outbox_written"
Waker = Callable[[], None]

# Keyed by the sync engine underneath each AsyncEngine: one process may hold several runtimes (tests).
_wakers: weakref.WeakKeyDictionary[Engine, set[Waker]] = weakref.WeakKeyDictionary()


def mark_written(session: Session) -> None:
    session.info[FLAG] = True


def subscribe(engine: Engine, waker: Waker) -> Callable[[], None]:
    _wakers.setdefault(engine, set()).add(waker)

    def unsubscribe() -> None:
        _wakers.get(engine, set()).discard(waker)

    return unsubscribe


def event_waker(ev: asyncio.Event) -> Waker:
    """A waker that sets `ev` on its own loop, whichever thread commits."""
    loop = asyncio.get_running_loop()

    def wake() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(ev.set)

    return wake


class Signal:
    """Set by every commit of `engine` that wrote outbox rows, from its creation until `close()`."""

    def __init__(self, engine: Engine) -> None:
        self._event = asyncio.Event()
        self._unsubscribe = subscribe(engine, event_waker(self._event))

    async def wait(self, within: float) -> bool:
        """Wait for such a commit since the last wait, for up to `within` seconds; True if one came."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._event.wait()
        came = self._event.is_set()
        self._event.clear()
        return came

    def close(self) -> None:
        self._unsubscribe()


def wake(engine: Engine) -> None:
    for waker in list(_wakers.get(engine, ())):
        waker()


def _engine_of(session: Session) -> Engine | None:
    bind: Any = session.bind
    if bind is None:
        return None
    return bind if isinstance(bind, Engine) else getattr(bind, "engine", None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(FLAG, False):
        engine = _engine_of(session)
        if engine is not None:
            wake(engine)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(FLAG, None)
