"""apps that are trackers, and the installations of in-house trackers

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An app that is a tracker declares the base URL of the contract its service speaks; installing it
    # makes an Installation(provider="inhouse") at that URL.
    with op.batch_alter_table("app", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracker_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("app", schema=None) as batch_op:
        batch_op.drop_column("tracker_url")
