"""members sign in: password hashes, one-time sign-in links, console sessions and failed sign-ins

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conduit.db.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = conduit.db.base.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))

    op.create_table(
        "member_session",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        _fk("member_session", "organization_id", "organization"),
        _fk("member_session", "member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_member_session_token_hash")),
    )
    op.create_index(op.f("ix_member_session_organization_id"), "member_session", ["organization_id"])
    op.create_index(op.f("ix_member_session_member_id"), "member_session", ["member_id"])

    op.create_table(
        "sign_in_link",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("used_at", TIME, nullable=True),
        _fk("sign_in_link", "organization_id", "organization"),
        _fk("sign_in_link", "member_id", "member"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_link_token_hash")),
    )
    op.create_index(op.f("ix_sign_in_link_organization_id"), "sign_in_link", ["organization_id"])
    op.create_index(op.f("ix_sign_in_link_member_id"), "sign_in_link", ["member_id"])

    op.create_table(
        "sign_in_failure",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failure")),
    )
    op.create_index("ix_sign_in_failure_key_created", "sign_in_failure", ["key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_failure_key_created", table_name="sign_in_failure")
    op.drop_table("sign_in_failure")
    op.drop_index(op.f("ix_sign_in_link_member_id"), table_name="sign_in_link")
    op.drop_index(op.f("ix_sign_in_link_organization_id"), table_name="sign_in_link")
    op.drop_table("sign_in_link")
    op.drop_index(op.f("ix_member_session_member_id"), table_name="member_session")
    op.drop_index(op.f("ix_member_session_organization_id"), table_name="member_session")
    op.drop_table("member_session")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("password_hash")
