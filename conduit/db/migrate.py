"""Alembic, driven from code so `conduit migrate` needs no alembic.ini."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

# Importing alembic announces each of its plugins at INFO: noise in every start-up log.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from alembic import command  # noqa: E402 - after the line above, which silences its import
from alembic.config import Config  # noqa: E402

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(database_url: str, revision: str = "head", quiet: bool = False) -> None:
    """Bring the schema to `revision`. `quiet` keeps alembic's step-by-step lines out of the log (the
    embedded start-up migrates every time; `conduit migrate` shows them)."""
    logger = logging.getLogger("alembic")
    level = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        command.upgrade(alembic_config(database_url), revision)
    finally:
        logger.setLevel(level)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    # env.py runs its own event loop, so it must not share the caller's.
    await asyncio.to_thread(upgrade, database_url, revision)
