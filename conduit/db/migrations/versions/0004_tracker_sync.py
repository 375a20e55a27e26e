"""tracker sync: OAuth states, per-scope webhooks, webhook receipts, ticket requests

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import conduit.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = conduit.db.base.UTCDateTime(timezone=True)


def _common(table: str) -> list[Any]:
    return [
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f(f"fk_{table}_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installation.id"],
            name=op.f(f"fk_{table}_installation_id_installation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _org_index(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_organization_id"), ["organization_id"], unique=False)


def upgrade() -> None:
    op.create_table(
        "oauth_state",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("code_verifier_enc", sa.Text(), nullable=True),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("used_at", TIME, nullable=True),
        *_common("oauth_state"),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_state_state_hash")),
    )
    _org_index("oauth_state")
    op.create_table(
        "tracker_webhook",
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        *_common("tracker_webhook"),
        sa.UniqueConstraint("installation_id", "scope", name=op.f("uq_tracker_webhook_installation_id")),
    )
    _org_index("tracker_webhook")
    op.create_table(
        "webhook_receipt",
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        *_common("webhook_receipt"),
        sa.UniqueConstraint(
            "installation_id", "delivery_id", name=op.f("uq_webhook_receipt_installation_id")
        ),
    )
    _org_index("webhook_receipt")
    op.create_table(
        "ticket_request",
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("issue_id", ID, nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "state",
            sa.Enum("pending", "done", "failed", name="ticketrequeststate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("external_issue_id", ID, nullable=True),
        *_common("ticket_request"),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issue.id"], name=op.f("fk_ticket_request_issue_id_issue"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["external_issue_id"],
            ["external_issue.id"],
            name=op.f("fk_ticket_request_external_issue_id_external_issue"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ticket_request_idempotency_key")),
    )
    _org_index("ticket_request")


def downgrade() -> None:
    for table in ("ticket_request", "webhook_receipt", "tracker_webhook", "oauth_state"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_organization_id"))
        op.drop_table(table)
