"""Import rejections keep the row's original cells, for the desk's rejected-rows download

Revision ID: 0017_import_columns
Revises: 0013_daily_stats
Create Date: 2026-12-02 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0017_import_columns"
down_revision = "0013_daily_stats"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.drop_column("original")
