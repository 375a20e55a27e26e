"""labels a rule puts on the tickets it asks for

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Label names, as the rule's author wrote them; each connector maps them to its tracker's labels.
    with op.batch_alter_table("rule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket_labels", JSON, nullable=True))
    # The labels the requested ticket is created with (NULL: none), kept with the request so a
    # retried create job makes the same ticket.
    with op.batch_alter_table("ticket_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("labels", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_request", schema=None) as batch_op:
        batch_op.drop_column("labels")
    with op.batch_alter_table("rule", schema=None) as batch_op:
        batch_op.drop_column("ticket_labels")
