"""Per-tracker test drivers: what the shared suites cannot say without naming a tracker.

Every tracker in `conduit.connectors.registry` has `tests/connectors/<key>/driver.py` exporting
`DRIVER`, a `Driver`. The connector contract, sandbox and sync suites are parametrised over the
registry and ask the driver where trackers differ, never `if key == ...`; a tracker without a driver
fails every one of those tests (see `test_registry.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conduit.connectors import Connector, TicketDraft, TicketRecord
from conduit.connectors.registry import TRACKERS, provider

if TYPE_CHECKING:
    from tests.connectors.sandbox.serving import Served

KEYS = [t.key for t in TRACKERS]


class Driver(ABC):
    """The tracker-specific facts and checks of the shared suites."""

    # The API call reading one ticket makes (a fault's `match`, against the sandbox's call log).
    ticket_read_call: str
    # The API call a status change makes (a fault's `match`, against the sandbox's call log).
    status_change_call: str
    # Where the sandbox's `/state` lists the webhooks registered at it.
    webhooks_in_state: str
    # Whether uninstalling revokes the grant at the tracker (it has an endpoint for it).
    revokes_grant: bool
    # Whether the tracker's user search finds a user whose email is hidden (an exact-match search).
    finds_hidden_emails: bool
    # Whether a delivery's signature covers its body (an HMAC), so a changed body fails to verify.
    signs_body: bool
    # The default sandbox's user whose email the user search shows.
    assignee_email: str
    # Whether the sandbox moves a ticket to another scope (`/_sandbox/tickets/move`), giving it a new key.
    moves_tickets: bool = False

    # The path of the API endpoint `api_call` calls.
    api_path: str
    # The HTTP status of the call that creates a ticket: 201 Created for REST APIs; a GraphQL
    # mutation answers 200.
    created_status: int = 201

    @abstractmethod
    def api_call(self, served: Served) -> Callable[[], httpx.Response]:
        """A call to one of the served sandbox's authenticated API endpoints (after getting a token)."""

    @abstractmethod
    def check_rate_limited(self, served: Served, limited: httpx.Response) -> None:
        """Assert a 429 carries the tracker's own rate-limit headers and error body."""

    @abstractmethod
    def check_description(self, state: dict[str, Any], created: TicketRecord, draft: TicketDraft) -> None:
        """Assert the created ticket (in the sandbox's `/state`) quotes the exception and links back."""

    @abstractmethod
    def labels(self, state: dict[str, Any], created: TicketRecord) -> list[str]:
        """The created ticket's label names as the sandbox's `/state` shows them."""

    # How a label name is written in the tracker (Jira's labels have no spaces).
    def label_as(self, name: str) -> str:
        return name

    @abstractmethod
    def forgeries(
        self, headers: dict[str, str], body: bytes, secret: str | None
    ) -> list[tuple[dict[str, str], bytes, str | None]]:
        """Deliveries (headers, body, webhook secret) that `verify_webhook` must refuse, made from a
        genuine one."""

    @abstractmethod
    def tamper(self, body: bytes) -> bytes:
        """The delivery body with its change altered (a forger's edit)."""

    @abstractmethod
    async def comments(self, connector: Connector, key: str) -> list[str]:
        """The ticket's comments as plain text, read over the tracker's API."""

    @abstractmethod
    async def new_scope(self, control: httpx.AsyncClient) -> str:
        """A scope of its own, with no tickets yet, made through the sandbox's setup routes."""

    # For the parser fuzz test: headers every delivery carries, and fields its document needs.
    fuzz_headers: dict[str, str]
    fuzz_fields: dict[str, Any]


def driver(key: str) -> Driver:
    """The driver of tracker `key`; a tracker without one fails the test asking for it."""
    try:
        module = import_module(f"tests.connectors.{key}.driver")
    except ModuleNotFoundError as exc:
        raise LookupError(
            f"the {key} tracker has no test driver: add tests/connectors/{key}/driver.py with DRIVER"
        ) from exc
    found = getattr(module, "DRIVER", None)
    if not isinstance(found, Driver):
        raise LookupError(f"tests/connectors/{key}/driver.py must export DRIVER, a Driver")
    return found


def installs_over_oauth(key: str) -> bool:
    return provider(key).auth_mode == "oauth2"


def oauth_only(key: str) -> None:
    """Skip a test of the OAuth grant (code exchange, refresh, clients) for a tracker that connects
    with a pasted API token: it has no grant to test."""
    if not installs_over_oauth(key):
        pytest.skip(f"{key} connects with an API token, not OAuth")
