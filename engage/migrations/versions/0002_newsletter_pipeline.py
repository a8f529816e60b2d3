"""newsletter send pipeline

Revision ID: 0002_newsletter_pipeline
Revises: c97b58559268
Create Date: 2026-11-28 15:45:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import engage.types  # noqa: F401

revision = "0002_newsletter_pipeline"
down_revision = "c97b58559268"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
