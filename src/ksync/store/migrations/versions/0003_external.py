"""Face-specific data kept beside instances and tasks (a Connect config, Tencent fields).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("instances", "tasks"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("external", sa.JSON, nullable=True))


def downgrade() -> None:
    for table in ("instances", "tasks"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("external")
