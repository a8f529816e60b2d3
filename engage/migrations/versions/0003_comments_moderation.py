"""comments and moderation

Revision ID: 0003_comments_moderation
Revises: 0002_newsletter_pipeline
Create Date: 2026-11-28 15:45:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import engage.types  # noqa: F401

revision = "0003_comments_moderation"
down_revision = "0002_newsletter_pipeline"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
