"""automation rules, their firing log and the counts their triggers read

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import conduit.db.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = conduit.db.base.UTCDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TRIGGERS = ("new_issue", "regression", "event_rate", "events_since_ticket")
OUTCOMES = ("pending", "created", "linked", "commented", "emitted", "suppressed", "failed")


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "rule",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "trigger", sa.Enum(*TRIGGERS, name="ruletrigger", native_enum=False, length=30), nullable=False
        ),
        sa.Column("threshold", sa.Integer(), nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=True),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("installation_id", ID, nullable=True),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("title_template", sa.String(length=1000), nullable=True),
        sa.Column("description_template", sa.Text(), nullable=True),
        sa.Column("assignee_id", ID, nullable=True),
        sa.Column("comment_milestones", sa.Boolean(), nullable=False),
        sa.Column("max_tickets_per_hour", sa.Integer(), nullable=False),
        sa.Column("ticket_times", JSON, nullable=False),
        sa.Column("quota_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        _fk("rule", "organization_id", "organization"),
        _fk("rule", "project_id", "project"),
        _fk("rule", "installation_id", "installation", "SET NULL"),
        _fk("rule", "assignee_id", "member", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule")),
    )
    op.create_index(op.f("ix_rule_organization_id"), "rule", ["organization_id"])
    op.create_index("ix_rule_project_enabled", "rule", ["project_id", "enabled"])

    op.create_table(
        "rule_firing",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("rule_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("issue_id", ID, nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.String(length=100), nullable=False),
        sa.Column(
            "outcome", sa.Enum(*OUTCOMES, name="firingoutcome", native_enum=False, length=30), nullable=False
        ),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("ticket_request_id", ID, nullable=True),
        sa.Column("external_issue_id", ID, nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("event_received_at", TIME, nullable=True),
        sa.Column("settled_at", TIME, nullable=True),
        _fk("rule_firing", "organization_id", "organization"),
        _fk("rule_firing", "rule_id", "rule"),
        _fk("rule_firing", "project_id", "project"),
        _fk("rule_firing", "issue_id", "issue"),
        _fk("rule_firing", "ticket_request_id", "ticket_request", "SET NULL"),
        _fk("rule_firing", "external_issue_id", "external_issue", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_firing")),
    )
    op.create_index(op.f("ix_rule_firing_organization_id"), "rule_firing", ["organization_id"])
    op.create_index("ix_rule_firing_rule_issue_cause", "rule_firing", ["rule_id", "issue_id", "cause"])
    op.create_index("ix_rule_firing_organization_created", "rule_firing", ["organization_id", "created_at"])
    op.create_index("ix_rule_firing_project_created", "rule_firing", ["project_id", "created_at"])

    op.create_table(
        "rule_issue_count",
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("issue_id", ID, autoincrement=False, nullable=False),
        sa.Column("observed", sa.Integer(), nullable=True),
        sa.Column("queued", sa.Boolean(), nullable=False),
        sa.Column("regressed_at", TIME, nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        _fk("rule_issue_count", "organization_id", "organization"),
        _fk("rule_issue_count", "issue_id", "issue"),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_rule_issue_count")),
    )
    op.create_index(op.f("ix_rule_issue_count_organization_id"), "rule_issue_count", ["organization_id"])

    op.create_table(
        "rule_count_bucket",
        sa.Column("issue_id", ID, autoincrement=False, nullable=False),
        sa.Column("minute", TIME, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        _fk("rule_count_bucket", "issue_id", "issue"),
        sa.PrimaryKeyConstraint("issue_id", "minute", name=op.f("pk_rule_count_bucket")),
    )
    op.create_index("ix_rule_count_bucket_minute", "rule_count_bucket", ["minute"])

    op.create_table(
        "rule_ticket",
        sa.Column("organization_id", ID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("external_issue_id", ID, autoincrement=False, nullable=False),
        sa.Column("issue_id", ID, nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=False),
        sa.Column("milestone", sa.Integer(), nullable=False),
        _fk("rule_ticket", "organization_id", "organization"),
        _fk("rule_ticket", "external_issue_id", "external_issue"),
        _fk("rule_ticket", "issue_id", "issue"),
        sa.PrimaryKeyConstraint("external_issue_id", name=op.f("pk_rule_ticket")),
    )
    op.create_index(op.f("ix_rule_ticket_organization_id"), "rule_ticket", ["organization_id"])
    op.create_index(op.f("ix_rule_ticket_issue_id"), "rule_ticket", ["issue_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rule_ticket_issue_id"), table_name="rule_ticket")
    op.drop_index(op.f("ix_rule_ticket_organization_id"), table_name="rule_ticket")
    op.drop_table("rule_ticket")
    op.drop_index("ix_rule_count_bucket_minute", table_name="rule_count_bucket")
    op.drop_table("rule_count_bucket")
    op.drop_index(op.f("ix_rule_issue_count_organization_id"), table_name="rule_issue_count")
    op.drop_table("rule_issue_count")
    op.drop_index("ix_rule_firing_project_created", table_name="rule_firing")
    op.drop_index("ix_rule_firing_organization_created", table_name="rule_firing")
    op.drop_index("ix_rule_firing_rule_issue_cause", table_name="rule_firing")
    op.drop_index(op.f("ix_rule_firing_organization_id"), table_name="rule_firing")
    op.drop_table("rule_firing")
    op.drop_index("ix_rule_project_enabled", table_name="rule")
    op.drop_index(op.f("ix_rule_organization_id"), table_name="rule")
    op.drop_table("rule")
