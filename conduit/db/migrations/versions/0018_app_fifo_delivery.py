"""strict per-endpoint delivery order, an option of the app

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # FIFO endpoints get one delivery at a time, in the order the events happened, and a failing one holds
    # the rest back; the others are sent concurrently up to max_in_flight.
    with op.batch_alter_table("app", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fifo", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("app", schema=None) as batch_op:
        batch_op.drop_column("fifo")
