"""Alarms: a `status` rule compares with a task status (not a number); events are looked
up by task.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alarm_rules") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=True))
    op.create_index("ix_alarm_events_task_id", "alarm_events", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_alarm_events_task_id", "alarm_events")
    with op.batch_alter_table("alarm_rules") as batch:
        batch.drop_column("status")
