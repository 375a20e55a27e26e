"""Sync in: a tracker webhook is verified on its raw bytes, bound to its installation, deduplicated,
and applied by a job.

The URL names the installation by its opaque `hook_token`, never by its id. Before answering, the
receiver finds the installation by that token, checks the signature (constant time) and, where the
signature carries claims (a JWT naming a site and a webhook), that they name this installation's
site and webhooks; then it parses, records receipts and the job in one commit, and answers 202.

Invariants:
- An unknown token, a token of another provider, an installation not set up yet and a missing or bad
  signature are one and the same `Unverified`: a caller without a valid signature learns nothing, not
  even whether the URL exists.
- A delivery is taken at most once, whichever way it comes back: by the tracker's delivery id, by the
  body's sha256 (a signed body replayed under a new delivery id), and by the bearer token it carried
  (a signed token replayed with another body). Each is a `WebhookReceipt`, unique per installation,
  so concurrent copies race on one constraint and all but one answer "duplicate".
- Deliveries about tickets no issue is linked to are acknowledged and dropped; their token is still
  remembered, so it cannot be spent later on a body about a linked ticket.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conduit.connectors import (
    ChangeKind,
    StatusCategory,
    SyncConfig,
    TicketRecord,
    WebhookChange,
    WebhookRejected,
    get_connectors,
)
from conduit.connectors.base import WebhookContext, header
from conduit.db.models import ExternalIssue, Installation, InstallationStatus
from conduit.db.models.integrations import TrackerWebhook, WebhookReceipt
from conduit.errors import Forbidden, Invalid
from conduit.jobs import outbox
from conduit.runtime import Runtime
from conduit.sync.apply import Outcome, apply_comment, apply_record
from conduit.sync.cache import known_record
from conduit.sync.outbound import ticket_key

APPLY_KIND = "tracker.webhook.apply"
# What every hook URL answers when it cannot take a delivery for lack of a valid signature.
UNVERIFIED = "the delivery is not verified: unknown hook URL, or missing or invalid signature"
# `Installation.hook_token` is token_urlsafe(24); anything else is not worth a database round trip.
TOKEN_MAX = 64
TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# Both stay what they were before the error root (a LookupError, a ValueError) as well.
class Unverified(Forbidden, LookupError):
    """No installation takes this delivery: the one answer for unknown, unset and unsigned alike.
    The message says why, for the log only."""


class Refused(Invalid, ValueError):
    """A verified delivery not acted on: `status` 400 for a malformed body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _record_json(record: TicketRecord) -> dict[str, Any]:
    data = asdict(record)
    data["status_category"] = record.status_category.value
    data["updated_at"] = record.updated_at.isoformat() if record.updated_at else None
    return data


def _record(data: dict[str, Any]) -> TicketRecord:
    values = dict(data)
    values["status_category"] = StatusCategory(values["status_category"])
    values["updated_at"] = datetime.fromisoformat(values["updated_at"]) if values.get("updated_at") else None
    values["given"] = tuple(values["given"]) if values.get("given") else None
    return TicketRecord(**values)


def _comment_json(change: WebhookChange) -> dict[str, str] | None:
    """A tracker comment for the apply job: only with the tracker's id for it, by which its echo and
    its second delivery are known."""
    if change.kind is not ChangeKind.COMMENTED or not change.comment_id or change.comment is None:
        return None
    return {"id": change.comment_id, "body": change.comment}


async def _linked_ticket(
    session: AsyncSession, installation_id: int, key: str, tracker_id: str | None
) -> int | None:
    """The cached ticket a delivery is about: by the tracker's stable id (a moved ticket's delivery
    carries its new key), else by key."""
    mine = ExternalIssue.installation_id == installation_id
    if tracker_id:
        found = (
            await session.execute(
                select(ExternalIssue.id).where(mine, ExternalIssue.tracker_id == tracker_id).limit(1)
            )
        ).scalar_one_or_none()
        if found is not None:
            return found
    return (
        await session.execute(select(ExternalIssue.id).where(mine, ExternalIssue.key == key))
    ).scalar_one_or_none()


def _plausible_token(token: str) -> bool:
    return 0 < len(token) <= TOKEN_MAX and all(c in TOKEN_ALPHABET for c in token)


def receipts(headers: dict[str, str], body: bytes, delivery_id: str | None) -> list[str]:
    """The names a delivery is remembered by (see the module docstring); the first is its own."""
    names = ["sha256:" + hashlib.sha256(body).hexdigest()]
    if delivery_id:
        names.insert(0, delivery_id[:200])
    scheme, _, credential = (header(headers, "Authorization") or "").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and credential:
        # A JWT is remembered by what it signs (header.payload): however a JOSE library treats the
        # spelling of the signature's base64, a re-spelled copy is the same token.
        signed = credential.rsplit(".", 1)[0] if credential.count(".") == 2 else credential
        names.append("jwt:" + hashlib.sha256(signed.encode()).hexdigest())
    return names


async def receive(
    runtime: Runtime, provider_key: str, hook_token: str, headers: dict[str, str], body: bytes
) -> str:
    """Take one delivery: returns "queued", "duplicate" or "ignored"; raises Unverified or Refused."""
    if not _plausible_token(hook_token):
        raise Unverified("the hook token is not of the form Conduit issues")
    async with runtime.sessions() as session:
        installation = (
            await session.execute(select(Installation).where(Installation.hook_token == hook_token))
        ).scalar_one_or_none()
        if installation is None:
            raise Unverified("no installation has this hook token")
        if installation.provider != provider_key:
            raise Unverified(f"the hook token is not a {provider_key!r} installation's")
        if installation.status is InstallationStatus.PENDING:
            raise Unverified(f"installation {installation.id} is not set up yet")
        installation_id = installation.id
        registered = (
            await session.execute(
                select(TrackerWebhook.external_id).where(
                    TrackerWebhook.installation_id == installation_id,
                    TrackerWebhook.external_id.is_not(None),
                )
            )
        ).scalars()
        context = WebhookContext(
            account_id=installation.account_id,
            site_url=installation.base_url or installation.account_url,
            cloud=installation.base_url is None,
            webhook_ids=frozenset(str(i) for i in registered),
        )
        connector = get_connectors(runtime).bind(installation)
        secret = (
            runtime.secrets.decrypt(installation.webhook_secret_enc)
            if installation.webhook_secret_enc
            else None
        )
        try:
            connector.verify_webhook(headers, body, secret, context)
        except WebhookRejected as exc:
            raise Unverified(f"installation {installation_id}: {exc}") from None
        try:
            change = connector.parse_webhook(headers, body)
        except WebhookRejected as exc:
            raise Refused(400, str(exc)) from None
        names = receipts(headers, body, change.delivery_id)
        external = None
        if change.kind is not ChangeKind.IGNORED and change.key is not None and change.ticket is not None:
            external = await _linked_ticket(session, installation_id, change.key, change.ticket.tracker_id)
        if external is None:
            # Not acted on, so only the token is remembered: spending it again must not work.
            names = [n for n in names if n.startswith("jwt:")]
        for name in names:
            session.add(
                WebhookReceipt(
                    organization_id=installation.organization_id,
                    installation_id=installation_id,
                    delivery_id=name,
                )
            )
        if external is not None:
            assert change.ticket is not None
            # The apply job's arguments, in the order of conduit.sync.jobs.APPLY_FIELDS.
            outbox.enqueue(
                session,
                APPLY_KIND,
                installation_id,
                external,
                change.kind.value,
                _record_json(change.ticket),
                names[0],
                change.actor,
                _comment_json(change),
                organization_id=installation.organization_id,
                key=ticket_key(external),
            )
        if not names:
            return "ignored"
        try:
            await session.commit()
        except IntegrityError:
            return "duplicate"
        return "queued" if external is not None else "ignored"


async def apply(runtime: Runtime, payload: dict[str, Any]) -> Outcome:
    installation_id, external_id = int(payload["installation_id"]), int(payload["external_issue_id"])
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        external = await session.get(ExternalIssue, external_id)
        if installation is None or external is None:
            return Outcome.UNCHANGED
        known = known_record(external)
        connector = get_connectors(runtime).bind(installation)
    # A tracker whose delivery says too little is read here, with no database connection held.
    record = _record(payload["ticket"])
    if payload.get("kind") == ChangeKind.DELETED.value:
        record = connector.deleted(record.key, None)
    else:
        record = await connector.webhook_ticket(record, known)
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        external = await session.get(ExternalIssue, external_id)
        if installation is None or external is None:
            return Outcome.UNCHANGED
        outcome = await apply_record(
            session,
            installation,
            SyncConfig.from_json(installation.config),
            external,
            record,
            payload.get("actor"),
        )
        comment = payload.get("comment")
        if isinstance(comment, dict) and not record.deleted:
            added = await apply_comment(
                session,
                installation,
                external,
                str(comment["id"]),
                str(comment["body"]),
                payload.get("actor"),
            )
            outcome = added if added is Outcome.APPLIED else outcome
        await session.commit()
        return outcome
