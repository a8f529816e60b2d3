"""the transactional outbox, and per-reader deferral of delivery rows

Revision ID: 0006_sending_outbox
Revises: 0005_digests
Create Date: 2026-12-02 06:20:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0006_sending_outbox"
down_revision = "0005_digests"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=100), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("relayed_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')", name=op.f("ck_outbox_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_finished_at"), ["finished_at"], unique=False)
        batch_op.create_index(
            "ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    # Rebuilt on SQLite with AUTOINCREMENT: a delivery id is never reused (it will name the
    # row in bounce addresses).
    with op.batch_alter_table(
        "deliveries", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(
            sa.Column("next_attempt_at", engage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("first_deferred_at", engage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("bounce", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("bounce")
        batch_op.drop_column("first_deferred_at")
        batch_op.drop_column("next_attempt_at")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_outbox_finished_at"))

    op.drop_table("outbox")
