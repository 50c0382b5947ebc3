"""Monitoring: current task metrics, member counters, a 24 h history of 10 s points,
instance sync quotas, alarm rules and alarm events.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("metrics", sa.JSON, nullable=True))
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("metrics", sa.JSON, nullable=True))
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("sync_quota_mb_s", sa.Float, nullable=True))
    op.create_table(
        "metric_points",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_metric_points_task_at", "metric_points", ["task_id", "at"])
    op.create_table(
        "alarm_rules",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("task_id", sa.String(32)),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("comparison", sa.String(8), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("webhooks", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        # Per task: {"task-…": {"pending_since", "firing_since", "value"}}, kept by the controller.
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "alarm_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(32), nullable=False, index=True),
        sa.Column("task_id", sa.String(32)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("delivery", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alarm_events")
    op.drop_table("alarm_rules")
    op.drop_index("ix_metric_points_task_at", "metric_points")
    op.drop_table("metric_points")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("sync_quota_mb_s")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("metrics")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("metrics")
