"""newsletter send pipeline

Revision ID: 0002_newsletter_pipeline
Revises: c97b58559268
Create Date: 2026-11-28 15:45:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types  # noqa: F401

revision = "0002_newsletter_pipeline"
down_revision = "c97b58559268"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_deliveries_newsletter_status", ["newsletter_id", "status"], unique=False
        )


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_newsletter_status")
        batch_op.drop_column("claim_token")
