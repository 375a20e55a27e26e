"""the URL each tracker webhook was registered with, so one registered at an old URL is moved

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Left empty on existing rows: they were registered at `/hooks/{provider}/{id}`, which is refused
    # now, and reconcile moves every webhook whose URL is not the current one.
    with op.batch_alter_table("tracker_webhook", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracker_webhook", schema=None) as batch_op:
        batch_op.drop_column("url")
