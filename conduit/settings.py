"""Configuration, read from the environment with the ``CONDUIT_`` prefix."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("conduit.settings")

DEFAULT_DATA_DIR = Path(".conduit")
# Values that look like configuration but protect nothing; refused in production.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development", "test"})
MIN_SECRET_LENGTH = 32
# The largest per-minute quota: beyond it a limit would no longer be distinguishable from none.
MAX_RATE_LIMIT = 1_000_000_000


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


def url_origin(url: str) -> str:
    """`scheme://host:port` of an http(s) URL, normalised (lower case, IDNA, explicit port), so two
    spellings of one server compare equal and a look-alike (another port, a longer host) never does."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"{url!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{url!r} is not an http(s) URL with a host")
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.scheme}://{host}:{port}"


class TrackerClient(BaseModel):
    """An OAuth client the operator registered with a tracker: its cloud (`base_url` absent) or one
    self-hosted server (an enterprise or data-center install), matched on the server's exact origin."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    base_url: str | None = None
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1, repr=False)

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        value = value.strip().lower()
        if not value:
            raise ValueError("provider is required (a tracker's provider key)")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if httpx.URL(value.strip()).userinfo:
            raise ValueError("base_url may not carry credentials")
        url_origin(value)  # refuses what is not an http(s) URL
        return value.strip().rstrip("/")

    @property
    def origin(self) -> str | None:
        """The server this client belongs to; None for the provider's cloud."""
        return url_origin(self.base_url) if self.base_url else None


# CONDUIT_<PROVIDER>_CLIENT_ID / _SECRET: a provider's cloud client, for whichever providers are
# registered (settings sit below the connectors and know no provider by name).
CLOUD_CLIENT_ENV = re.compile(
    r"^CONDUIT_(?P<provider>[A-Z0-9_]+?)_CLIENT_(?P<part>ID|SECRET)$", re.IGNORECASE
)


def cloud_clients_from_env(environ: Mapping[str, str]) -> list[TrackerClient]:
    """The cloud clients the environment names; a provider needs both its id and its secret set."""
    parts: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        match = CLOUD_CLIENT_ENV.match(name)
        if match is not None and value:
            parts.setdefault(match["provider"].lower(), {})[match["part"].lower()] = value
    return [
        TrackerClient(provider=key, client_id=given["id"], client_secret=given["secret"])
        for key, given in sorted(parts.items())
        if given.get("id") and given.get("secret")
    ]


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

    # The operator's OAuth clients, as JSON: [{"provider": "<key>", "base_url": "https://tracker.example.com",
    # "client_id": "...", "client_secret": "..."}]. An entry with a base_url serves installations on
    # exactly that origin (scheme, host and port); one without is the provider's cloud client, only
    # ever sent to the cloud's own endpoints, never to a base URL a tenant names. A cloud client may
    # also be given as CONDUIT_<PROVIDER>_CLIENT_ID and CONDUIT_<PROVIDER>_CLIENT_SECRET (any provider
    # key); those are read from the environment and merged into this list.
    tracker_clients: list[TrackerClient] = Field(default_factory=list)

    # GraphQL guards: generous for people, tight enough to stop abuse.
    graphql_max_depth: int = 12
    graphql_max_tokens: int = 4000
    graphql_max_aliases: int = 30
    graphql_max_entities: int = 100
    # Static cost: list fields multiply by their `first`/`last` (or page size) through nesting.
    graphql_max_cost: int = 100_000
    # Wall-clock budget of one operation, in seconds.
    graphql_timeout: float = 15.0

    # Bodies of every HTTP endpoint must arrive within this many seconds.
    http_body_timeout: float = 30.0
    # Connections one process holds at once; past it new ones get 503. Bounds what slow clients (headers
    # trickling in) can hold: put a proxy with header timeouts in front for the rest.
    http_max_connections: int = 1000

    # The console's session cookie is Secure unless this says otherwise: "auto" leaves the flag off only
    # for plain http to a loopback address, or plain http outside production; true or false force it.
    cookie_secure: Literal["auto"] | bool = "auto"

    # "json": one JSON object per log line, with the request and trace ids (conduit.logs). Traces are
    # configured by the standard OTEL_* variables instead (conduit.tracing).
    log_format: Literal["text", "json"] = "text"

    # The bearer token `/metrics` requires; unset, `/metrics` answers 404.
    metrics_token: str | None = Field(default=None, repr=False)

    # Ingest guards, the same order of magnitude as Sentry's relay.
    ingest_max_compressed_bytes: int = 1 * 1024 * 1024
    ingest_max_decompressed_bytes: int = 10 * 1024 * 1024

    # Quotas, per minute: events one DSN key may send (a project may set its own), requests one API token
    # may make. 0 is no limit. Shared by every process through Redis when `redis_url` is set.
    ingest_rate_limit: int = Field(default=0, ge=0, le=MAX_RATE_LIMIT)
    api_rate_limit: int = Field(default=0, ge=0, le=MAX_RATE_LIMIT)

    @model_validator(mode="before")
    @classmethod
    def _cloud_clients(cls, data: Any) -> Any:
        """Add the cloud clients given as CONDUIT_<PROVIDER>_CLIENT_ID / _SECRET to `tracker_clients`."""
        if not isinstance(data, dict):
            return data
        found = cloud_clients_from_env(os.environ)
        if found:
            given = data.get("tracker_clients") or []
            data = {**data, "tracker_clients": [*found, *given]}
        return data

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'conduit.db').as_posix()}"
        self.database_url = normalize_database_url(self.database_url)
        if self.redis_url == "":
            self.redis_url = None
        if not (self.metrics_token or "").strip():
            self.metrics_token = None
        self._check_tracker_clients()
        return self

    def _check_tracker_clients(self) -> None:
        seen: set[tuple[str, str | None]] = set()
        for client in self.tracker_clients:
            key = (client.provider, client.origin)
            if key in seen:
                where = client.origin or "the cloud"
                raise ValueError(
                    f"two OAuth clients are configured for {client.provider} at {where}; keep one "
                    "(CONDUIT_TRACKER_CLIENTS and CONDUIT_{PROVIDER}_CLIENT_ID both count)"
                )
            seen.add(key)

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
