"""comments and moderation

Revision ID: 0003_comments_moderation
Revises: 0002_newsletter_pipeline
Create Date: 2026-11-28 15:45:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0003_comments_moderation"
down_revision = "0002_newsletter_pipeline"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "commenters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("notify_confirmed_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notify_stopped_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmation_sent_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unsubscribe_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commenters")),
        sa.UniqueConstraint("email_hash", name=op.f("uq_commenters_email_hash")),
        sa.UniqueConstraint("unsubscribe_id", name=op.f("uq_commenters_unsubscribe_id")),
    )
    op.create_table(
        "comment_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_comment_reports_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_reports")),
    )
    with op.batch_alter_table("comment_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comment_reports_comment_id"), ["comment_id"], unique=False
        )

    op.create_table(
        "comment_sanctions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('ban', 'premoderate')", name=op.f("ck_comment_sanctions_kind")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_comment_sanctions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_sanctions")),
        sa.UniqueConstraint("email_hash", "kind", name="uq_comment_sanctions_hash_kind"),
    )
    op.create_table(
        "comment_domain_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('ban', 'premoderate')", name=op.f("ck_comment_domain_rules_kind")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_comment_domain_rules_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_domain_rules")),
        sa.UniqueConstraint("domain", name=op.f("uq_comment_domain_rules_domain")),
    )
    op.create_table(
        "moderation_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "action IN ('approve', 'reject')", name=op.f("ck_moderation_links_action")
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_moderation_links_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_moderation_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_links")),
    )
    with op.batch_alter_table("moderation_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_moderation_links_comment_id"), ["comment_id"], unique=False
        )

    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "moderators_notified_at", engage.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("moderators_notified_at")

    with op.batch_alter_table("moderation_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_moderation_links_comment_id"))
    op.drop_table("moderation_links")
    op.drop_table("comment_domain_rules")
    op.drop_table("comment_sanctions")
    with op.batch_alter_table("comment_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_reports_comment_id"))
    op.drop_table("comment_reports")
    op.drop_table("commenters")
