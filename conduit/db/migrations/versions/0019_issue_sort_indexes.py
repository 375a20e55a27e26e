"""issue pages sorted by last or first seen, without a status filter, read from an index

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The page's ORDER BY with its tie-break: read backwards, the first page is its first rows, however
    # many issues the project has. (project_id, status, last_seen) serves only pages filtered by status.
    op.create_index("ix_issue_project_last_seen_id", "issue", ["project_id", "last_seen", "id"])
    op.create_index("ix_issue_project_first_seen_id", "issue", ["project_id", "first_seen", "id"])


def downgrade() -> None:
    op.drop_index("ix_issue_project_first_seen_id", table_name="issue")
    op.drop_index("ix_issue_project_last_seen_id", table_name="issue")
