"""Long-lived resources shared by requests and jobs: created once, closed once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from conduit.auth.crypto import SecretBox
from conduit.db.engine import make_engine, make_sessionmaker
from conduit.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secrets: SecretBox
    extras: dict[str, object] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            secrets=SecretBox(settings.resolved_secret_key()),
        )

    async def close(self) -> None:
        await self.engine.dispose()
