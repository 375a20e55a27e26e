"""The connector base: one small hook per capability, abstract where every tracker must answer.

A tracker package subclasses `Connector`; a missing abstract method makes the class impossible to
instantiate (mypy flags it, and so does importing the registry, which checks every tracker), so a
tracker that lacks one never reaches a running job. The non-abstract hooks have a default that is
right for a tracker without the capability (no expiring webhooks, no revocation endpoint, ...).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, TypeGuard

from conduit.connectors.api import Api
from conduit.connectors.catalog import Provider
from conduit.connectors.config import SyncConfig
from conduit.connectors.errors import NotFound
from conduit.connectors.oauth import ClientCredentials, OAuthClient
from conduit.connectors.records import (
    AccountRecord,
    CommentRecord,
    StatusCategory,
    TicketRecord,
    TokenSet,
    WebhookChange,
    WebhookRegistration,
    WebhookRejected,
)
from conduit.text import JSON_NUL_ESCAPE, without_nul

# How many single-ticket reads a batch may have in flight at once.
BATCH_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """What a new ticket says: prefilled from a Conduit issue, linking back to it."""

    title: str
    summary: str  # plain text; each tracker renders it in its own format
    issue_url: str
    exception: str | None = None  # the latest exception, quoted as a code block
    # Label names; each connector puts them on the ticket its tracker's way (see its `create_ticket`).
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookContext:
    """What Conduit knows of the installation a delivery arrived for, so a connector can check that the
    delivery names that installation and no other (a signature alone only proves who signed it)."""

    # The tracker account or site: a cloud site's id, a self-hosted server's base URL.
    account_id: str | None = None
    # Where the site lives: the self-hosted base URL, or the cloud site's own URL.
    site_url: str | None = None
    # True when the installation is on the provider's cloud (no base URL of its own).
    cloud: bool = True
    # The ids of the webhooks Conduit registered at the tracker for this installation.
    webhook_ids: frozenset[str] = field(default_factory=frozenset)


class Connector(ABC):
    # The provider's catalog entry (data); its `key` names the tracker everywhere.
    provider: ClassVar[Provider]

    def __init__(self, api: Api, config: SyncConfig, client: ClientCredentials | None = None) -> None:
        self.api = api
        self.config = config
        self.client = client

    # -- keys ----------------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def scope_of(cls, key: str) -> str:
        """The scope (a repository, a project) the ticket `key` belongs to, read from the key alone."""

    # -- installing ----------------------------------------------------------------------------------
    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> TokenSet:
        if self.client is None:
            raise LookupError(f"no OAuth client configured for {self.provider.name}")
        return await OAuthClient(self.api.http).exchange_code(
            self.api.target, self.provider, self.api.endpoints, self.client, code, redirect_uri, code_verifier
        )

    @abstractmethod
    async def discover_account(self) -> AccountRecord: ...

    @abstractmethod
    async def register_webhook(self, scope: str, url: str, secret: str) -> WebhookRegistration:
        """Register the tracker's webhook for `scope` (a repository, a project) pointing at `url`."""
        ...

    async def refresh_webhook(self, webhook_id: str) -> datetime | None:
        """Extend a webhook that expires; returns the new expiry (None: it does not expire)."""
        return None

    # -- tickets -------------------------------------------------------------------------------------
    @abstractmethod
    async def create_ticket(self, scope: str, draft: TicketDraft) -> TicketRecord: ...

    @abstractmethod
    async def get_ticket(self, key: str, known: TicketRecord | None = None) -> TicketRecord:
        """The ticket now; `known` (the stored copy) makes the read conditional where supported."""
        ...

    async def get_tickets(
        self, keys: Sequence[str], known: Mapping[str, TicketRecord] | None = None
    ) -> dict[str, TicketRecord]:
        """Many tickets, as few calls as the tracker allows; a deleted ticket comes back `deleted`.

        Each comes back under the key it was asked by, which a moved ticket no longer has (its record
        carries the new one)."""
        known = known or {}
        limit = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(key: str) -> TicketRecord:
            async with limit:
                try:
                    return await self.get_ticket(key, known.get(key))
                except NotFound:
                    return self.deleted(key, known.get(key))

        wanted = list(dict.fromkeys(keys))
        records = await asyncio.gather(*(one(k) for k in wanted))
        return dict(zip(wanted, records, strict=True))

    @abstractmethod
    def deleted(self, key: str, known: TicketRecord | None) -> TicketRecord: ...

    async def webhook_ticket(self, record: TicketRecord, known: TicketRecord | None = None) -> TicketRecord:
        """The ticket a webhook's change is applied as. Most trackers send the whole ticket with each
        delivery, which is `record`; one whose deliveries name only what changed completes it from
        `known` (the stored copy) where that is enough, or reads it here."""
        return record

    async def changed_since(self, scope: str, since: datetime) -> list[TicketRecord] | None:
        """Tickets of `scope` changed since `since`, in one listing; None when the tracker has none
        (then tickets are read by key with `get_tickets`)."""
        return None

    @abstractmethod
    async def search(self, scope: str, text: str, limit: int = 20) -> list[TicketRecord]: ...

    @abstractmethod
    async def set_status(
        self,
        key: str,
        resolved: bool,
        config: SyncConfig | None = None,
        known: TicketRecord | None = None,
    ) -> TicketRecord:
        """Resolve or reopen the ticket. `known` is the stored copy: a tracker whose move depends on
        the ticket's state may move it from there in one call, and reads it first when it cannot."""

    @abstractmethod
    async def statuses(self, scopes: Sequence[str]) -> list[str]:
        """The status names tickets of `scopes` can have, for checking a config against."""
        ...

    @abstractmethod
    async def find_user(self, email: str) -> str | None:
        """The tracker user with this email (their stable id), by the tracker's user search; None
        when no user shows it (trackers often hide emails)."""
        ...

    @abstractmethod
    async def assign(self, key: str, account: str | None) -> TicketRecord:
        """Assign the ticket to the tracker user `account` (from `find_user`); None unassigns it."""
        ...

    async def unregister_webhook(self, scope: str, webhook_id: str) -> None:
        """Remove a webhook Conduit registered; a webhook already gone counts as removed."""
        return None

    async def revoke(self, access_token: str) -> bool:
        """Revoke the grant at the tracker where it has an endpoint for it; False when it has none."""
        return False

    @abstractmethod
    async def comment(self, key: str, body: str) -> CommentRecord: ...

    # -- webhooks in ---------------------------------------------------------------------------------
    @abstractmethod
    def verify_webhook(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secret: str | None,
        context: WebhookContext | None = None,
    ) -> None:
        """Raise WebhookRejected unless the delivery is signed by the tracker (checked on the raw bytes)
        and, where the signature carries claims, bound to the installation `context` describes."""
        ...

    @abstractmethod
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookChange:
        """A verified delivery, understood; raises WebhookRejected when it is malformed."""
        ...


def deleted_ticket(
    key: str, known: TicketRecord | None, *, url: str = "", tracker_id: str | None = None
) -> TicketRecord:
    """A ticket the tracker no longer has: the stored copy marked deleted, or, with none stored, a
    record of what the key alone says (`Connector.deleted`)."""
    if known is not None:
        return replace(known, deleted=True, etag=None, not_modified=False)
    return TicketRecord(
        key, url, "", "deleted", StatusCategory.DONE, None, None, deleted=True, tracker_id=tracker_id
    )


def moves_from(
    known: TicketRecord | None, key: str, resolved: bool, config: SyncConfig
) -> TypeGuard[TicketRecord]:
    """Whether the stored copy of `key` says a status change has to move it, so a tracker that can
    move it from the stored state in one call may try (a stored copy that says there is nothing to do
    is not trusted for that: the ticket is read)."""
    return (
        known is not None
        and not known.deleted
        and known.key == key
        and config.is_resolved(known.status, known.status_category) != resolved
    )


def same_signature(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two signature strings."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def load_webhook_json(body: bytes | str) -> Any:
    """A webhook body as JSON; anything hostile (too deep, numbers too long, not UTF-8) is a
    WebhookRejected saying so, never an unexpected error, and NUL characters are replaced."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise WebhookRejected("the delivery body is nested too deeply to be a tracker event") from None
    except UnicodeDecodeError:
        raise WebhookRejected("the delivery body is not UTF-8 text") from None
    except ValueError as exc:
        raise WebhookRejected(f"the delivery body is not JSON: {str(exc)[:200]}") from None
    # A ticket's title or comment may hold NUL, which PostgreSQL cannot store (conduit.text).
    raw = body.encode() if isinstance(body, str) else body
    return without_nul(document) if JSON_NUL_ESCAPE in raw else document


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup for plain dicts as well as Starlette/httpx headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


__all__ = [
    "Connector",
    "TicketDraft",
    "WebhookContext",
    "WebhookRejected",
    "deleted_ticket",
    "header",
    "load_webhook_json",
    "same_signature",
]
