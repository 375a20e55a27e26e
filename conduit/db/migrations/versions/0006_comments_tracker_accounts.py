"""comments on issues; tracker accounts of members; why a ticket change did not happen

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conduit.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = conduit.db.base.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "comment",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("issue_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        _fk("comment", "organization_id", "organization"),
        _fk("comment", "issue_id", "issue"),
        _fk("comment", "author_id", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment")),
    )
    op.create_index(op.f("ix_comment_organization_id"), "comment", ["organization_id"])
    op.create_index(op.f("ix_comment_issue_id"), "comment", ["issue_id"])
    op.create_table(
        "tracker_account",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        _fk("tracker_account", "organization_id", "organization"),
        _fk("tracker_account", "installation_id", "installation"),
        _fk("tracker_account", "member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracker_account")),
        sa.UniqueConstraint(
            "installation_id", "member_id", name=op.f("uq_tracker_account_installation_id_member_id")
        ),
    )
    op.create_index(op.f("ix_tracker_account_organization_id"), "tracker_account", ["organization_id"])
    op.create_index(
        "ix_tracker_account_installation_account", "tracker_account", ["installation_id", "account"]
    )
    with op.batch_alter_table("external_issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_error", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("external_issue", schema=None) as batch_op:
        batch_op.drop_column("sync_error")
    op.drop_index("ix_tracker_account_installation_account", table_name="tracker_account")
    op.drop_index(op.f("ix_tracker_account_organization_id"), table_name="tracker_account")
    op.drop_table("tracker_account")
    op.drop_index(op.f("ix_comment_issue_id"), table_name="comment")
    op.drop_index(op.f("ix_comment_organization_id"), table_name="comment")
    op.drop_table("comment")
