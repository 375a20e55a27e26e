"""opaque webhook tokens and self-hosted OAuth clients on tracker installations

Revision ID: 0007
Revises: 0006
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hook_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("oauth_client_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("oauth_client_secret_enc", sa.Text(), nullable=True))
    installation = sa.table("installation", sa.column("id", sa.Integer), sa.column("hook_token", sa.String))
    bind = op.get_bind()
    for (row_id,) in bind.execute(sa.select(installation.c.id)).all():
        bind.execute(
            installation.update()
            .where(installation.c.id == row_id)
            .values(hook_token=secrets.token_urlsafe(24))
        )
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.alter_column("hook_token", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_installation_hook_token"), ["hook_token"])


def downgrade() -> None:
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_installation_hook_token"), type_="unique")
        batch_op.drop_column("oauth_client_secret_enc")
        batch_op.drop_column("oauth_client_id")
        batch_op.drop_column("hook_token")
