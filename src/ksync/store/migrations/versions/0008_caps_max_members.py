"""Workers report how many members they host at most (`--max-members`), so the
controller's slot assignment gives none of them more.

Revision ID: 0008_caps
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_caps"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("max_members", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("max_members")
