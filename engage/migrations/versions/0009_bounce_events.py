"""Bounce events: bounces and complaints that came back after sending; a delivery's bounce
column holds "complaint" too

Revision ID: 0009_bounce_events
Revises: 0008_keys_moderation
Create Date: 2026-12-02 10:25:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0009_bounce_events"
down_revision = "0008_keys_moderation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "bounce_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("diagnostic", engage.types.RedactedString(length=500), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('hard', 'soft', 'complaint')", name=op.f("ck_bounce_events_kind")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_bounce_events_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_bounce_events_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_events")),
        sa.UniqueConstraint("delivery_id", "kind", name="uq_bounce_events_delivery_kind"),
        sa.UniqueConstraint("outbox_id", "kind", name="uq_bounce_events_outbox_kind"),
        sa.UniqueConstraint("source", "event_id", name="uq_bounce_events_source_event"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bounce_events_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index(
            "ix_bounce_events_email_hash_kind", ["email_hash", "kind", "occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bounce_events_subscriber_id"), ["subscriber_id"], unique=False
        )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column(
            "bounce",
            existing_type=sa.VARCHAR(length=8),
            type_=sa.String(length=16),
            existing_nullable=True,
        )


def downgrade():
    # "complaint" does not fit the old column; the events table that explained it goes too.
    op.execute("UPDATE deliveries SET bounce = 'hard' WHERE bounce = 'complaint'")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column(
            "bounce",
            existing_type=sa.String(length=16),
            type_=sa.VARCHAR(length=8),
            existing_nullable=True,
        )

    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bounce_events_subscriber_id"))
        batch_op.drop_index("ix_bounce_events_email_hash_kind")
        batch_op.drop_index(batch_op.f("ix_bounce_events_delivery_id"))

    op.drop_table("bounce_events")
