"""Every model, imported here so metadata is complete for migrations and queries."""

from conduit.db.models.apps import (
    App,
    AppGrant,
    AppInstallation,
    AppInstallationStatus,
    AppKind,
    AppToken,
    AppWebhookSecret,
    AttemptTrigger,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
)
from conduit.db.models.comments import Comment
from conduit.db.models.integrations import (
    ExternalIssue,
    Installation,
    InstallationStatus,
    Interaction,
    InteractionOutcome,
    IssueLink,
    OAuthState,
    TicketRequest,
    TicketRequestState,
    TrackerAccount,
    TrackerComment,
    TrackerWebhook,
    WebhookReceipt,
)
from conduit.db.models.issues import Event, Issue, IssueStatus
from conduit.db.models.orgs import ApiToken, Member, MemberRole, Organization
from conduit.db.models.outbox import OutboxRow, OutboxState
from conduit.db.models.projects import Project, ProjectKey

__all__ = [
    "ApiToken",
    "App",
    "AppGrant",
    "AppInstallation",
    "AppInstallationStatus",
    "AppKind",
    "AppToken",
    "AppWebhookSecret",
    "AttemptTrigger",
    "Comment",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "Event",
    "ExternalIssue",
    "Installation",
    "InstallationStatus",
    "Interaction",
    "InteractionOutcome",
    "Issue",
    "IssueLink",
    "IssueStatus",
    "Member",
    "MemberRole",
    "OAuthState",
    "Organization",
    "OutboxRow",
    "OutboxState",
    "Project",
    "ProjectKey",
    "TicketRequest",
    "TicketRequestState",
    "TrackerAccount",
    "TrackerComment",
    "TrackerWebhook",
    "WebhookReceipt",
]
