"""digest editions through the send pipeline

Revision ID: 0005_digests
Revises: 0004_community_directory
Create Date: 2026-11-28 16:30:00

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import engage.types  # noqa: F401

revision = "0005_digests"
down_revision = "0004_community_directory"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
