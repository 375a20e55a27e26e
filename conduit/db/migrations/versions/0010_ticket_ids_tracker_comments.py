"""tickets known by the tracker's stable id; comments synced in from trackers, and each comment's
copy on a ticket

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conduit.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = conduit.db.base.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    # Left empty on existing rows: the next read of each ticket (reconcile, a delivery) fills it.
    with op.batch_alter_table("external_issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracker_id", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_external_issue_installation_tracker_id", ["installation_id", "tracker_id"])
    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_installation_id", ID, nullable=True))
        batch_op.add_column(sa.Column("source_provider", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("author_name", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_comment_source_installation_id_installation"),
            "installation",
            ["source_installation_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "tracker_comment",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("comment_id", ID, nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        _fk("tracker_comment", "organization_id", "organization"),
        _fk("tracker_comment", "installation_id", "installation"),
        _fk("tracker_comment", "comment_id", "comment"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracker_comment")),
        sa.UniqueConstraint(
            "installation_id", "external_id", name="uq_tracker_comment_installation_external"
        ),
    )
    op.create_index(op.f("ix_tracker_comment_organization_id"), "tracker_comment", ["organization_id"])
    op.create_index(op.f("ix_tracker_comment_comment_id"), "tracker_comment", ["comment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tracker_comment_comment_id"), table_name="tracker_comment")
    op.drop_index(op.f("ix_tracker_comment_organization_id"), table_name="tracker_comment")
    op.drop_table("tracker_comment")
    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_comment_source_installation_id_installation"), type_="foreignkey")
        batch_op.drop_column("author_name")
        batch_op.drop_column("source_provider")
        batch_op.drop_column("source_installation_id")
    with op.batch_alter_table("external_issue", schema=None) as batch_op:
        batch_op.drop_index("ix_external_issue_installation_tracker_id")
        batch_op.drop_column("tracker_id")
