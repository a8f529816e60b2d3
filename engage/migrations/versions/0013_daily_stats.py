"""Daily statistics: one row per UTC day, and the indexes the rollup's range queries use

Revision ID: 0013_daily_stats
Revises: 0012_suppression_history
Create Date: 2026-12-02 11:30:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0013_daily_stats"
down_revision = "0012_suppression_history"
branch_labels = None
depends_on = None

COUNTS = (
    "signups",
    "confirmations",
    "unsubscribes",
    "bounces_hard",
    "bounces_soft",
    "complaints",
    "confirmed_total",
    "pending_total",
    "unsubscribed_total",
)


def upgrade():
    op.create_table(
        "daily_stats",
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column("computed_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_daily_stats")),
    )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_index("ix_subscribers_confirmed_at", ["confirmed_at"], unique=False)
        batch_op.create_index("ix_subscribers_unsubscribed_at", ["unsubscribed_at"], unique=False)
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.create_index("ix_bounce_events_occurred_at", ["occurred_at"], unique=False)


def downgrade():
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.drop_index("ix_bounce_events_occurred_at")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_subscribers_unsubscribed_at")
        batch_op.drop_index("ix_subscribers_confirmed_at")
    op.drop_table("daily_stats")
