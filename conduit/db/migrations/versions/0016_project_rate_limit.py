"""per-project ingest rate limit

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Events per minute each of the project's DSN keys may send; NULL falls back to the operator's default.
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ingest_rate_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("ingest_rate_limit")
