"""integrations: installations, external issues, links, interactions

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import conduit.db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "error",
                "revoked",
                name="installationstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.String(length=1000), nullable=True),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("account_name", sa.String(length=500), nullable=True),
        sa.Column("account_url", sa.String(length=500), nullable=True),
        sa.Column("access_token_enc", sa.Text(), nullable=True),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("token_expires_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("credentials_version", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(length=200), nullable=True),
        sa.Column("webhook_secret_enc", sa.Text(), nullable=True),
        sa.Column("webhook_expires_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_installation_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_installation_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "external_issue",
        sa.Column("installation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("status_category", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=320), nullable=True),
        sa.Column("updated_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_synced_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installation.id"],
            name=op.f("fk_external_issue_installation_id_installation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_external_issue_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_issue")),
        sa.UniqueConstraint("installation_id", "key", name=op.f("uq_external_issue_installation_id")),
    )
    with op.batch_alter_table("external_issue", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_issue_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "interaction",
        sa.Column("installation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("success", "failure", "halted", name="interactionoutcome", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.Column("rate_limit_remaining", sa.Integer(), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installation.id"],
            name=op.f("fk_interaction_installation_id_installation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_interaction_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction")),
    )
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_interaction_installation_created", ["installation_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_interaction_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "issue_link",
        sa.Column("issue_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_issue_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("broken", sa.Boolean(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_issue_id"],
            ["external_issue.id"],
            name=op.f("fk_issue_link_external_issue_id_external_issue"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issue.id"], name=op.f("fk_issue_link_issue_id_issue"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_issue_link_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_link")),
        sa.UniqueConstraint("issue_id", "external_issue_id", name=op.f("uq_issue_link_issue_id")),
    )
    with op.batch_alter_table("issue_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_issue_link_external_issue_id"), ["external_issue_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_issue_link_issue_id"), ["issue_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_issue_link_organization_id"), ["organization_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issue_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_link_organization_id"))
        batch_op.drop_index(batch_op.f("ix_issue_link_issue_id"))
        batch_op.drop_index(batch_op.f("ix_issue_link_external_issue_id"))

    op.drop_table("issue_link")
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interaction_organization_id"))
        batch_op.drop_index("ix_interaction_installation_created")

    op.drop_table("interaction")
    with op.batch_alter_table("external_issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_issue_organization_id"))

    op.drop_table("external_issue")
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_installation_organization_id"))

    op.drop_table("installation")
