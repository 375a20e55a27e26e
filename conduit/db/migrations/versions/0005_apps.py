"""apps: integrator apps, installations, grant codes, tokens, webhook deliveries and attempts

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import conduit.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("public", "internal", name="appkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("client_secret_hash", sa.String(length=64), nullable=False),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("redirect_url", sa.String(length=2000), nullable=True),
        sa.Column(
            "events",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("verify_install", sa.Boolean(), nullable=False),
        sa.Column("webhook_timeout", sa.Float(), nullable=False),
        sa.Column("rate_limit_per_second", sa.Integer(), nullable=False),
        sa.Column("max_in_flight", sa.Integer(), nullable=False),
        sa.Column("failing_since", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failing_notified_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=20), nullable=True),
        sa.Column("deleted_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_app_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app")),
        sa.UniqueConstraint("client_id", name=op.f("uq_app_client_id")),
    )
    with op.batch_alter_table("app", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "app_installation",
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "installed",
                "uninstalled",
                name="appinstallationstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("installed_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("uninstalled_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["app.id"], name=op.f("fk_app_installation_app_id_app"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_app_installation_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_installation")),
        sa.UniqueConstraint("app_id", "organization_id", name=op.f("uq_app_installation_app_id")),
    )
    with op.batch_alter_table("app_installation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_installation_app_id"), ["app_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_app_installation_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "app_webhook_secret",
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("expires_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["app.id"], name=op.f("fk_app_webhook_secret_app_id_app"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_webhook_secret")),
    )
    with op.batch_alter_table("app_webhook_secret", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_webhook_secret_app_id"), ["app_id"], unique=False)

    op.create_table(
        "app_grant",
        sa.Column("installation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["app_installation.id"],
            name=op.f("fk_app_grant_installation_id_app_installation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_grant")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_app_grant_code_hash")),
    )
    with op.batch_alter_table("app_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_grant_installation_id"), ["installation_id"], unique=False)

    op.create_table(
        "app_token",
        sa.Column("installation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("access_expires_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pair_encrypted", sa.Text(), nullable=True),
        sa.Column("rotated_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replaced_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("revoked_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["app_installation.id"],
            name=op.f("fk_app_token_installation_id_app_installation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_app_token_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["app_token.id"], name=op.f("fk_app_token_replaced_by_id_app_token")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_token")),
        sa.UniqueConstraint("access_hash", name=op.f("uq_app_token_access_hash")),
        sa.UniqueConstraint("refresh_hash", name=op.f("uq_app_token_refresh_hash")),
    )
    with op.batch_alter_table("app_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_token_installation_id"), ["installation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_app_token_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "webhook_delivery",
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "owner_organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("installation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("msg_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "succeeded", "failed", name="deliverystatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=1024), nullable=True),
        sa.Column("finished_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["app.id"], name=op.f("fk_webhook_delivery_app_id_app"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["app_installation.id"],
            name=op.f("fk_webhook_delivery_installation_id_app_installation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_webhook_delivery_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_organization_id"],
            ["organization.id"],
            name=op.f("fk_webhook_delivery_owner_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("app_id", "event_id", name="uq_webhook_delivery_app_event"),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_delivery_app_created", ["app_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_webhook_delivery_installation_created", ["installation_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_owner_organization_id"), ["owner_organization_id"], unique=False
        )
        batch_op.create_index("ix_webhook_delivery_status_app", ["app_id", "status"], unique=False)

    op.create_table(
        "webhook_attempt",
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "trigger",
            sa.Enum("scheduled", "manual", name="attempttrigger", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("started_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.Column("next_attempt_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["app.id"], name=op.f("fk_webhook_attempt_app_id_app"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_delivery.id"],
            name=op.f("fk_webhook_attempt_delivery_id_webhook_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempt")),
    )
    with op.batch_alter_table("webhook_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_attempt_app_started", ["app_id", "started_at"], unique=False)
        batch_op.create_index("ix_webhook_attempt_delivery", ["delivery_id", "number"], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("webhook_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_attempt_delivery")
        batch_op.drop_index("ix_webhook_attempt_app_started")

    op.drop_table("webhook_attempt")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_delivery_status_app")
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_owner_organization_id"))
        batch_op.drop_index("ix_webhook_delivery_installation_created")
        batch_op.drop_index("ix_webhook_delivery_app_created")

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("app_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_token_organization_id"))
        batch_op.drop_index(batch_op.f("ix_app_token_installation_id"))

    op.drop_table("app_token")
    with op.batch_alter_table("app_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_grant_installation_id"))

    op.drop_table("app_grant")
    with op.batch_alter_table("app_webhook_secret", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_webhook_secret_app_id"))

    op.drop_table("app_webhook_secret")
    with op.batch_alter_table("app_installation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_installation_organization_id"))
        batch_op.drop_index(batch_op.f("ix_app_installation_app_id"))

    op.drop_table("app_installation")
    with op.batch_alter_table("app", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_organization_id"))

    op.drop_table("app")
    # ### end Alembic commands ###
