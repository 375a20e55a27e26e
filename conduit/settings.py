"""Configuration, read from the environment with the ``CONDUIT_`` prefix."""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("conduit.settings")

DEFAULT_DATA_DIR = Path(".conduit")
# Values that look like configuration but protect nothing; refused in production.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development", "test"})
MIN_SECRET_LENGTH = 32


class ConfigurationError(RuntimeError):
    """The configuration cannot be used as given."""


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and pick the async driver for them."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"CONDUIT_DATABASE_URL {url!r} is not a URL")
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+asyncpg": "postgresql+asyncpg",
    }
    if scheme not in drivers:
        raise ValueError(
            f"CONDUIT_DATABASE_URL scheme {scheme!r} is not supported: use sqlite+aiosqlite:// or postgresql://"
        )
    return f"{drivers[scheme]}://{rest}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONDUIT_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    allow_private_webhook_urls: bool = False
    # Tracker base URLs (self-hosted trackers, the sandbox) on loopback or private addresses. Off by
    # default: a tenant's base URL must not reach the operator's network. Metadata addresses stay refused.
    allow_private_tracker_urls: bool = False

    # OAuth clients Conduit's tracker installations authorize with.
    github_client_id: str | None = None
    github_client_secret: str | None = None
    jira_client_id: str | None = None
    jira_client_secret: str | None = None

    # GraphQL guards: generous for people, tight enough to stop abuse.
    graphql_max_depth: int = 12
    graphql_max_tokens: int = 4000
    graphql_max_aliases: int = 30
    graphql_max_entities: int = 100
    # Static cost: list fields multiply by their `first`/`last` (or page size) through nesting.
    graphql_max_cost: int = 50_000
    # Wall-clock budget of one operation, in seconds.
    graphql_timeout: float = 15.0

    # Bodies of every HTTP endpoint must arrive within this many seconds.
    http_body_timeout: float = 30.0

    # Ingest guards, the same order of magnitude as Sentry's relay.
    ingest_max_compressed_bytes: int = 1 * 1024 * 1024
    ingest_max_decompressed_bytes: int = 10 * 1024 * 1024

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'conduit.db').as_posix()}"
        self.database_url = normalize_database_url(self.database_url)
        if self.redis_url == "":
            self.redis_url = None
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The key that encrypts secrets at rest.

        Production refuses to start without a real one. Elsewhere a key is generated once and kept
        beside the SQLite file, so that a restart can still read what was encrypted before.
        """
        key = self.secret_key
        if (
            key is not None
            and key.strip().lower() not in PLACEHOLDER_SECRETS
            and len(key) >= MIN_SECRET_LENGTH
        ):
            return key
        if self.is_production:
            raise ConfigurationError(
                "CONDUIT_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters when CONDUIT_ENV=production"
            )
        if key:
            log.warning("CONDUIT_SECRET_KEY is a placeholder or too short; using a generated key instead")
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        generated = secrets.token_urlsafe(48)
        path.write_text(generated)
        path.chmod(0o600)
        log.warning("generated a secret key at %s; set CONDUIT_SECRET_KEY to manage it yourself", path)
        return generated


@lru_cache
def get_settings() -> Settings:
    return Settings()
