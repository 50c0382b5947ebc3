"""Secrets at rest: the row each start opens to check the secret key.

Secrets already stored in clear are sealed by the first start with a key
(`ksync.store.secret_repo.SecretRepo.adopt`), which needs the key this migration does
not have.

Revision ID: 0010_secret_check
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_secret_check"
down_revision = "0009_group_offsets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secret_check",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("secret_check")
