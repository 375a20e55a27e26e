"""Long-lived resources shared by requests and jobs: each made once, by one owner, and closed once.

The runtime makes its core resources itself (the database engine and sessions, the secret box). The
resources of higher layers (the job service, the webhook client and throttle, the live event broker,
the connector service) are declared where their type lives, as a `Resource`: its name, how to make it
from the runtime, and how to close it. The runtime holds whatever is made or provided for a resource,
and `close` closes all of it in the reverse order it came, then disposes of the engine. So nothing
outlives the runtime that made it, and the runtime never imports a layer above it.

    Runtime.create(settings)     engine, sessions, secrets
    runtime.get(RESOURCE)        made by RESOURCE.make(runtime) on first use, then the same object
    runtime.provide(RESOURCE, x) x made elsewhere (an entry point, a test), owned from now on
    runtime.close()              closes every resource, newest first, then the engine
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from conduit.crypto import SecretBox
from conduit.db.engine import make_engine, make_sessionmaker
from conduit.settings import Settings

log = logging.getLogger("conduit.runtime")
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Resource(Generic[T]):
    """A kind of long-lived resource a runtime may hold one of; compared by identity."""

    name: str
    # Without `make`, the resource exists only once provided (e.g. the job service an entry point starts).
    make: Callable[[Runtime], T] | None = None
    close: Callable[[T], Awaitable[object]] | None = None

    def __repr__(self) -> str:
        return f"Resource({self.name!r})"


class RuntimeClosed(RuntimeError):
    """A resource was asked of a runtime that has been closed; it would never be closed again."""


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secrets: SecretBox
    # In the order they were made or provided; closed in reverse.
    _held: dict[Resource[Any], Any] = field(default_factory=dict, repr=False)
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            secrets=SecretBox(settings.resolved_secret_key()),
        )

    def get(self, resource: Resource[T]) -> T:
        """This runtime's `resource`, made on first use; it is closed with the runtime."""
        if resource in self._held:
            return cast(T, self._held[resource])
        if resource.make is None:
            raise LookupError(f"{resource.name} has not been provided to this runtime")
        if self._closed:
            raise RuntimeClosed(f"{resource.name} asked of a closed runtime")
        value = resource.make(self)
        self._held[resource] = value
        return value

    def find(self, resource: Resource[T]) -> T | None:
        """This runtime's `resource` if it holds one; never makes it."""
        return cast("T | None", self._held.get(resource))

    def provide(self, resource: Resource[T], value: T) -> T:
        """Hold `value` as this runtime's `resource` (made by the caller); it is closed with the runtime."""
        if self._closed:
            raise RuntimeClosed(f"{resource.name} provided to a closed runtime")
        if resource in self._held:
            raise ValueError(f"this runtime already holds {resource.name}")
        self._held[resource] = value
        return value

    def release(self, resource: Resource[T], value: T) -> bool:
        """Stop holding `value` (its owner closed it early, e.g. a stopped job service); False if not held."""
        if self._held.get(resource) is not value:
            return False
        del self._held[resource]
        return True

    async def close(self) -> None:
        """Close every held resource, newest first (each may use older ones while it closes), then the
        engine. A resource that fails to close is logged; the others are still closed."""
        self._closed = True
        while self._held:
            resource, value = self._held.popitem()
            if resource.close is None:
                continue
            try:
                await resource.close(value)
            except Exception:
                log.exception("closing %s failed", resource.name)
        await self.engine.dispose()
