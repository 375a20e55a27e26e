"""Tracker connectors: a catalog of providers, one road out, and one module per tracker."""

from conduit.connectors.base import Connector, TicketDraft
from conduit.connectors.config import SyncConfig
from conduit.connectors.records import (
    AccountRecord,
    ChangeKind,
    CommentRecord,
    StatusCategory,
    TicketRecord,
    WebhookChange,
    WebhookRegistration,
    WebhookRejected,
)
from conduit.connectors.service import Connectors, get_connectors

__all__ = [
    "AccountRecord",
    "ChangeKind",
    "CommentRecord",
    "Connector",
    "Connectors",
    "StatusCategory",
    "SyncConfig",
    "TicketDraft",
    "TicketRecord",
    "WebhookChange",
    "WebhookRegistration",
    "WebhookRejected",
    "get_connectors",
]
