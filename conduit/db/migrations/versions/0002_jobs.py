"""jobs: run bookkeeping on the outbox, periodic schedule

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conduit.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("errors", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("dead_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(
            sa.Column("started_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("duration_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("latency_ms", sa.Integer(), nullable=True))
        batch_op.create_index("ix_outbox_state_lease", ["state", "lease_expires_at"], unique=False)
        batch_op.create_index("ix_outbox_kind_state", ["kind", "state"], unique=False)

    op.create_table(
        "job_schedule",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("next_run_at", conduit.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", conduit.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_schedule")),
    )


def downgrade() -> None:
    op.drop_table("job_schedule")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_kind_state")
        batch_op.drop_index("ix_outbox_state_lease")
        batch_op.drop_column("latency_ms")
        batch_op.drop_column("duration_ms")
        batch_op.drop_column("started_at")
        batch_op.drop_column("dead_reason")
        batch_op.drop_column("errors")
