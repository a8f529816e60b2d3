"""digest editions through the send pipeline

Revision ID: 0005_digests
Revises: 0004_community_directory
Create Date: 2026-11-28 16:30:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0005_digests"
down_revision = "0004_community_directory"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "digest_renders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("content_key", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", engage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["digest_editions.id"],
            name=op.f("fk_digest_renders_edition_id_digest_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_renders")),
        sa.UniqueConstraint("edition_id", "content_key", name="uq_digest_renders_content"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_render_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_digest_render_id_digest_renders"),
            "digest_renders",
            ["digest_render_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_deliveries_digest_status", ["digest_edition_id", "status"], unique=False
        )


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_digest_status")
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_digest_render_id_digest_renders"), type_="foreignkey"
        )
        batch_op.drop_column("digest_render_id")
    op.drop_table("digest_renders")
