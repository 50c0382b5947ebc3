"""Consumer-group offset sync: the offset pairs members record, the last sync of each
group's partition, and the resets users ask for.

Revision ID: 0009_group_offsets
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_group_offsets"
down_revision = "0008_caps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offset_pairs",
        sa.Column("task_id", sa.String(32), primary_key=True),
        sa.Column("target_topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("target_offset", sa.BigInteger(), primary_key=True),
        sa.Column("source_topic", sa.String(255), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "group_offsets",
        sa.Column("task_id", sa.String(32), primary_key=True),
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("target_topic", sa.String(255), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("target_offset", sa.BigInteger(), nullable=True),
        sa.Column("target_committed", sa.BigInteger(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_table(
        "group_offset_resets",
        sa.Column("task_id", sa.String(32), primary_key=True),
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("group_offset_resets")
    op.drop_table("group_offsets")
    op.drop_table("offset_pairs")
