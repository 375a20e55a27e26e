"""app tokens remember the grant code they came from

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_token", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("grant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_app_token_grant_id"), ["grant_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_app_token_grant_id_app_grant"),
            "app_grant",
            ["grant_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("app_token", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_app_token_grant_id_app_grant"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_app_token_grant_id"))
        batch_op.drop_column("grant_id")
