"""community directory and organiser submissions

Revision ID: 0004_community_directory
Revises: 0003_comments_moderation
Create Date: 2026-11-28 16:30:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0004_community_directory"
down_revision = "0003_comments_moderation"
branch_labels = None
depends_on = None


def upgrade():
    # Server defaults fill the rows that exist already (demo groups and events).
    with op.batch_alter_table("support_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
        )
        batch_op.add_column(
            sa.Column("updated_at", engage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("needs_check", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("updated_at", engage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("needs_check", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("needs_check")
        batch_op.drop_column("updated_at")
    with op.batch_alter_table("support_groups", schema=None) as batch_op:
        batch_op.drop_column("needs_check")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("timezone")
