"""The small typed records connectors return; raw tracker JSON never leaves conduit.connectors."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime

from conduit.errors import Invalid


class StatusCategory(enum.StrEnum):
    """A tracker's status, normalized: what Conduit reasons about across trackers."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class TicketRecord:
    key: str
    url: str
    title: str
    status: str  # the tracker's own name for it ("open", "In Review", ...)
    status_category: StatusCategory
    assignee_email: str | None
    updated_at: datetime | None
    etag: str | None = None
    deleted: bool = False
    # True when the tracker answered 304 and this is the stored copy, confirmed current.
    not_modified: bool = False
    # The tracker's own handle for the assignee (a login, a display name), for people to read.
    assignee: str | None = None
    # The tracker's stable id for the assignee (a GitHub login, a Jira accountId): matches members
    # through stored tracker accounts when the email is hidden.
    assignee_id: str | None = None
    # The tracker's stable id for the ticket (a GitHub issue id, a Jira issue id, a Linear UUID, a
    # GitLab global id, a Shortcut story id): it stays when the ticket moves and its key changes.
    tracker_id: str | None = None
    # Set when a webhook's delivery named only what changed: the fields it gave. The rest are the
    # stored copy's (`completed`), or the ticket is read.
    given: tuple[str, ...] | None = None

    def confirmed(self) -> TicketRecord:
        return replace(self, not_modified=True)

    def completed(self, known: TicketRecord) -> TicketRecord:
        """The stored copy with what this partial record gave."""
        values = {name: getattr(self, name) for name in self.given or ()}
        return replace(known, **values, etag=None, not_modified=False, given=None)


@dataclass(frozen=True, slots=True)
class CommentRecord:
    id: str
    url: str | None


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """The tracker account or site an installation acts for."""

    id: str
    name: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A token endpoint's answer, as sent: what to keep and for how long is decided in tokens.py."""

    access_token: str
    refresh_token: str | None
    expires_in: int | None
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookRegistration:
    id: str | None
    secret: str | None
    expires_at: datetime | None = None
    # When the tracker's API may not create it: where a person pastes the URL and the secret.
    manual: bool = False


class ChangeKind(enum.StrEnum):
    CREATED = "created"
    CLOSED = "closed"
    REOPENED = "reopened"
    STATUS_CHANGED = "status_changed"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    COMMENTED = "commented"
    EDITED = "edited"
    DELETED = "deleted"
    IGNORED = "ignored"  # a delivery we understand but don't act on (ping, labels, ...)


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """One tracker webhook delivery, understood."""

    delivery_id: str | None
    kind: ChangeKind
    key: str | None
    ticket: TicketRecord | None
    occurred_at: datetime | None
    # Who made the change on the tracker side (login, accountId or email), to recognise our own.
    actor: str | None = None
    # The tracker's event name and action, for logs.
    event: str = ""
    comment: str | None = None
    # The tracker's id for the comment (COMMENTED): what a comment that arrives twice is known by.
    comment_id: str | None = None
    status_from: str | None = None
    status_to: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class WebhookRejected(Invalid, ValueError):
    """A webhook delivery that must not be acted on: unsigned, forged, or malformed. Still a ValueError,
    as before the error root."""
