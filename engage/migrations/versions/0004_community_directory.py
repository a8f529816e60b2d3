"""community directory and organiser submissions

Revision ID: 0004_community_directory
Revises: 0003_comments_moderation
Create Date: 2026-11-28 16:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import engage.types  # noqa: F401

revision = "0004_community_directory"
down_revision = "0003_comments_moderation"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
