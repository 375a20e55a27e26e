"""The in-house tracker sandbox: the reference service, unchanged, behind the shared sandbox machinery.

Its API routes are the reference service's own (`examples/inhouse_tracker/service.py`), over a SQLite
database in memory, so the shared suites run against exactly what a team starts from. What the
sandbox adds is around it: the secrets Conduit signs with are minted at `/_sandbox/api-tokens` and
kept as grants of the shared OAuth server (so a revoked one is refused from then on, as a team
rotating its secret would); the service's deliveries go through the shared outbox (faults, the
delivery log, redelivery, `/webhooks/send`), signed as the reference service signs them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from conduit.connectors.sandbox.control import ControlError
from conduit.connectors.sandbox.core import ApiError, Sandbox
from conduit.connectors.sandbox.faults import Fault
from conduit.connectors.sandbox.oauth import AccessToken, Grant, TokenPolicy
from conduit.connectors.sandbox.webhooks import Delivery, Signer
from conduit.webhooks.signing import generate_secret
from examples.inhouse_tracker.service import Failure, Limiter, Store, routes, send_deliveries

DEFAULT_CLIENT = ("sandbox-inhouse-client", "sandbox-inhouse-client-secret-0123456789abcdef")
SECRET_CLIENT = "signing-secret"
PROJECT = "OPS"
DEFAULT_PEOPLE = (
    ("person-1", "Olivia Owner", "olivia@example.com"),
    ("person-2", "Sam Shipper", "sam@example.com"),
    ("person-3", "Pat Person", "pat@example.com"),
)
# The shared suites make many calls in a minute; the limit is lowered by `/_sandbox/ratelimit`.
SANDBOX_RATE_LIMIT = 1_000_000


class InhouseSandbox(Sandbox):
    name = "inhouse"
    client = DEFAULT_CLIENT
    signature_headers = ("webhook-signature",)

    def __init__(self, seed: str = "inhouse") -> None:
        self.store = Store(":memory:")
        for person_id, name, email in DEFAULT_PEOPLE:
            self.store.add_person(person_id, name, email)
        super().__init__(seed, {"inhouse": TokenPolicy("", None)}, user=DEFAULT_PEOPLE[0][0])
        self.store.clock = self.clock.time
        self.human = DEFAULT_PEOPLE[-1][0]
        self.limiter = Limiter(SANDBOX_RATE_LIMIT)
        self.oauth.add_client(*DEFAULT_CLIENT, "inhouse")
        send_deliveries(self.store, self._deliver)

    # The service shows its own URL in tickets: the sandbox's, once served.
    @property
    def base_url(self) -> str | None:
        return self._base_url

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        self._base_url = value
        if value:
            self.store.url = value.rstrip("/")

    # -- tracker hooks -------------------------------------------------------------------------------
    def api_routes(self) -> list[BaseRoute]:
        return routes(self.store, self.secrets, self.limiter)

    def control_routes(self) -> list[BaseRoute]:
        from conduit.connectors.inhouse.sandbox.control import routes as control

        return control()

    def error_response(self, error: ApiError) -> Response:
        return Failure(error.status, "error", error.message, error.headers).response()

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limit":
            headers = {"Retry-After": str(fault.retry_after)}
            return Failure(429, "rate_limited", "too many requests", headers).response()
        if fault.kind == "timeout":
            return Failure(504, "unavailable", "the service did not answer in time").response()
        return Failure(fault.status, "unavailable", "the service failed").response()

    def scopes(self) -> list[str]:
        return [p["key"] for p in self.store.projects()]

    def knows_user(self, user: str) -> bool:
        return self.store.person(user) is not None

    def snapshot(self) -> dict[str, Any]:
        with self.store.lock:
            db = self.store.db
            return {
                "projects": [dict(p) for p in self.store.projects()],
                "people": [dict(p) for p in db.execute("SELECT * FROM people")],
                "tickets": [self.store.render(r) for r in db.execute("SELECT * FROM tickets ORDER BY id")],
                "webhooks": [
                    {"id": str(w["id"]), "url": w["url"], "project": w["project"]}
                    for w in db.execute("SELECT * FROM webhooks")
                ],
                "oauth": self.oauth.snapshot(),
            }

    # -- the secrets Conduit signs with --------------------------------------------------------------
    def mint_secret(self) -> str:
        """A new shared secret, as the team generates one and configures its service with it."""
        with self.lock:
            grant = Grant(self.ids.next("grant"), SECRET_CLIENT, DEFAULT_PEOPLE[0][0], "")
            value = generate_secret()
            self.oauth.access[value] = AccessToken(value, grant, None)
            return value

    def secrets(self) -> list[str]:
        """The secrets the service accepts now (revoked ones are not)."""
        return [v for v in list(self.oauth.access) if self.oauth.authenticate(v) is not None]

    # -- deliveries ----------------------------------------------------------------------------------
    def _deliver(self, url: str, secret: str, delivery_id: str, body: bytes) -> None:
        kind = str(json.loads(body).get("type", ""))
        self.outbox.enqueue(
            "ticket", kind.removeprefix("ticket."), url, body, _signer(secret), guid=delivery_id
        )

    # -- a person at the tracker ---------------------------------------------------------------------
    def _do(self, action: Any, *args: Any) -> Any:
        try:
            return action(*args)
        except Failure as failure:
            raise ControlError(failure.message, 404 if failure.status == 404 else 400) from None

    def add_person(self, name: str, email: str, email_shown: bool) -> str:
        person_id = f"person-{self.ids.next('person', len(DEFAULT_PEOPLE) + 1)}"
        return self.store.add_person(person_id, name, email, email_shown)

    def ticket_json(self, key: str) -> dict[str, Any]:
        return dict(self._do(lambda: self.store.render(self.store.row(key, deleted=True))))

    def close_ticket(self, key: str, actor: str) -> None:
        self._do(self.store.set_status, actor, key, "Done")

    def reopen_ticket(self, key: str, actor: str) -> None:
        self._do(self.store.set_status, actor, key, "Open")

    def comment_ticket(self, key: str, actor: str, text: str) -> None:
        self._do(self.store.comment, actor, key, text)

    def assign_ticket(self, key: str, actor: str, account: str | None) -> None:
        self._do(self.store.assign, actor, key, account)

    def delete_ticket(self, key: str, actor: str) -> None:
        self._do(self.store.delete, actor, key)

    def add_project(self, key: str, name: str) -> None:
        self._do(self.store.add_project, key, name)


def _signer(secret: str) -> Signer:
    """Standard Webhooks headers, as the reference service signs (computed here over raw bytes, so
    that a test can have any body signed, even one that is not UTF-8)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))

    def sign(delivery: Delivery, attempt: int, forge_with: str | None = None) -> dict[str, str]:
        # Real time, not the sandbox's clock: the receiver checks the timestamp against its own.
        stamp = str(int(time.time()))
        signed = f"{delivery.guid}.{stamp}.".encode() + delivery.body
        digest = hmac.new(forge_with.encode() if forge_with else key, signed, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "webhook-id": delivery.guid,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }

    return sign
