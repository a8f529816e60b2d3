"""Staff notification settings: per user and kind, with what was last mailed

Revision ID: 0016_staff_notifications
Revises: 0015_staff_2fa
Create Date: 2026-12-02 12:00:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0016_staff_notifications"
down_revision = "0015_staff_2fa"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_notifications",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("choice", sa.String(length=16), nullable=True),
        sa.Column("watermark", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_notified_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('held_replies', 'submissions', 'failed_mail')",
            name=op.f("ck_staff_notifications_kind"),
        ),
        sa.CheckConstraint(
            "choice IN ('immediate', 'batched', 'daily', 'off')",
            name=op.f("ck_staff_notifications_choice"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_staff_notifications")),
    )


def downgrade():
    op.drop_table("staff_notifications")
