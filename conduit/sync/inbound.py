"""Sync in: a tracker webhook is verified on its raw bytes, deduplicated, and applied by a job.

The route does only what must happen before answering: find the installation, check the signature
(constant time), parse, record the delivery id (unique per installation) and the job, answer 202.
Deliveries about tickets no issue is linked to are acknowledged and dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from conduit.connectors import (
    ChangeKind,
    StatusCategory,
    SyncConfig,
    TicketRecord,
    WebhookRejected,
    get_connectors,
)
from conduit.db.models import ExternalIssue, Installation, InstallationStatus
from conduit.db.models.integrations import WebhookReceipt
from conduit.jobs import outbox
from conduit.runtime import Runtime
from conduit.sync.apply import Outcome, apply_record
from conduit.sync.outbound import ticket_key

APPLY_KIND = "tracker.webhook.apply"


class Unknown(LookupError):
    """No such installation (or not of this provider)."""


class Refused(ValueError):
    """A delivery not acted on: `status` 401 for a missing or bad signature, 400 for a malformed body."""

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
    return TicketRecord(**values)


async def receive(
    runtime: Runtime, provider_key: str, installation_id: int, headers: dict[str, str], body: bytes
) -> str:
    """Take one delivery: returns "queued", "duplicate" or "ignored"; raises Refused or Unknown."""
    async with runtime.sessions() as session:
        installation = await session.get(Installation, installation_id)
        if installation is None or installation.provider != provider_key:
            raise Unknown(f"no {provider_key} installation {installation_id}")
        if installation.status is InstallationStatus.PENDING:
            raise Refused(409, "the installation is not set up yet")
        connector = get_connectors(runtime).bind(installation)
        secret = (
            runtime.secrets.decrypt(installation.webhook_secret_enc)
            if installation.webhook_secret_enc
            else None
        )
        try:
            connector.verify_webhook(headers, body, secret)
        except WebhookRejected as exc:
            raise Refused(401, str(exc)) from None
        try:
            change = connector.parse_webhook(headers, body)
        except WebhookRejected as exc:
            raise Refused(400, str(exc)) from None
        if change.kind is ChangeKind.IGNORED or change.key is None or change.ticket is None:
            return "ignored"
        external = (
            await session.execute(
                select(ExternalIssue.id).where(
                    ExternalIssue.installation_id == installation_id, ExternalIssue.key == change.key
                )
            )
        ).scalar_one_or_none()
        if external is None:
            return "ignored"
        # Without a delivery id, the body itself names the delivery: a byte-identical replay is a duplicate.
        delivery = change.delivery_id or "sha256:" + hashlib.sha256(body).hexdigest()
        session.add(
            WebhookReceipt(
                organization_id=installation.organization_id,
                installation_id=installation_id,
                delivery_id=delivery[:200],
            )
        )
        payload = {
            "installation_id": installation_id,
            "external_issue_id": external,
            "kind": change.kind.value,
            "ticket": _record_json(change.ticket),
            "delivery_id": delivery,
            "actor": change.actor,
        }
        outbox.add(
            session,
            APPLY_KIND,
            payload,
            organization_id=installation.organization_id,
            key=ticket_key(external),
        )
        try:
            await session.commit()
        except IntegrityError:
            return "duplicate"
        return "queued"


async def apply(runtime: Runtime, payload: dict[str, Any]) -> Outcome:
    async with runtime.sessions() as session:
        installation = await session.get(Installation, int(payload["installation_id"]))
        external = await session.get(ExternalIssue, int(payload["external_issue_id"]))
        if installation is None or external is None:
            return Outcome.UNCHANGED
        record = _record(payload["ticket"])
        if payload.get("kind") == ChangeKind.DELETED.value:
            record = get_connectors(runtime).bind(installation).deleted(record.key, None)
        outcome = await apply_record(
            session,
            installation,
            SyncConfig.from_json(installation.config),
            external,
            record,
            payload.get("actor"),
        )
        await session.commit()
        return outcome
