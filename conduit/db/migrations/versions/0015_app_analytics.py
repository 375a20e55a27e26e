"""partner analytics: the history of app installations and per-minute API usage of app tokens

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import conduit.db.base

revision: str = "0015"
down_revision: str | None = "0014"
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
        "app_installation_change",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("app_id", ID, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        sa.Column(
            "change",
            sa.Enum("installed", "uninstalled", name="installchange", native_enum=False, length=20),
            nullable=False,
        ),
        _fk("app_installation_change", "organization_id", "organization"),
        _fk("app_installation_change", "app_id", "app"),
        _fk("app_installation_change", "installation_id", "app_installation"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_installation_change")),
    )
    op.create_index(
        op.f("ix_app_installation_change_organization_id"), "app_installation_change", ["organization_id"]
    )
    op.create_index(
        op.f("ix_app_installation_change_installation_id"), "app_installation_change", ["installation_id"]
    )
    op.create_index(
        "ix_app_installation_change_app_created", "app_installation_change", ["app_id", "created_at"]
    )
    # Installations already installed get one change at the time they were installed, so a chart of a
    # live app does not start at zero.
    op.execute(
        "INSERT INTO app_installation_change (organization_id, created_at, app_id, installation_id, change) "
        "SELECT app.organization_id, app_installation.installed_at, app.id, app_installation.id, 'installed' "
        "FROM app_installation JOIN app ON app.id = app_installation.app_id "
        "WHERE app_installation.installed_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO app_installation_change (organization_id, created_at, app_id, installation_id, change) "
        "SELECT app.organization_id, app_installation.uninstalled_at, app.id, app_installation.id, "
        "'uninstalled' FROM app_installation JOIN app ON app.id = app_installation.app_id "
        "WHERE app_installation.uninstalled_at IS NOT NULL"
    )

    op.create_table(
        "app_api_usage",
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("app_id", ID, autoincrement=False, nullable=False),
        sa.Column("minute", TIME, nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        _fk("app_api_usage", "organization_id", "organization"),
        _fk("app_api_usage", "app_id", "app"),
        sa.PrimaryKeyConstraint("app_id", "minute", name=op.f("pk_app_api_usage")),
    )
    op.create_index(op.f("ix_app_api_usage_organization_id"), "app_api_usage", ["organization_id"])
    op.create_index("ix_app_api_usage_minute", "app_api_usage", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_app_api_usage_minute", table_name="app_api_usage")
    op.drop_index(op.f("ix_app_api_usage_organization_id"), table_name="app_api_usage")
    op.drop_table("app_api_usage")
    op.drop_index("ix_app_installation_change_app_created", table_name="app_installation_change")
    op.drop_index(op.f("ix_app_installation_change_installation_id"), table_name="app_installation_change")
    op.drop_index(op.f("ix_app_installation_change_organization_id"), table_name="app_installation_change")
    op.drop_table("app_installation_change")
