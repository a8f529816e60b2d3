"""Suppressions lifted by an admin, kept as history; indexes for the subscriber desk's
"address starts with" search (PostgreSQL) and sign-up date filter

Revision ID: 0012_suppression_history
Revises: 0010_private_details
Create Date: 2026-12-02 10:45:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0012_suppression_history"
# Chained after the bounce events of fix-bounces, which this branch merged (one head).
down_revision = "0010_private_details"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "suppression_lifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suppression_id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("suppressed_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("lifted_by", sa.String(length=300), nullable=False),
        sa.Column("lifted_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_suppression_lifts_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_suppression_lifts_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_lifts")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("suppression_lifts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suppression_lifts_email_hash"), ["email_hash"], unique=False
        )
    # PostgreSQL: LIKE 'prefix%' under a non-C collation needs pattern_ops. SQLite ignores the
    # option (a plain index there, as the unique one); one definition keeps both in step.
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscribers_email_pattern",
            ["email"],
            unique=False,
            postgresql_ops={"email": "varchar_pattern_ops"},
        )
        # The desk's "signed up between" filter.
        batch_op.create_index(batch_op.f("ix_subscribers_created_at"), ["created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscribers_created_at"))
        batch_op.drop_index("ix_subscribers_email_pattern")
    with op.batch_alter_table("suppression_lifts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppression_lifts_email_hash"))
    op.drop_table("suppression_lifts")
