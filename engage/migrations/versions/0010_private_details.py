"""Private joining details for groups and events, and the organiser's request notices

Revision ID: 0010_private_details
Revises: 0009_bounce_events
Create Date: 2026-12-02 11:00:00

Existing online links become private (a public call link lets anyone into a meeting): every
event's `online_url_private` starts true, and a group whose "how to join" text holds a web
link gets `how_to_join_private`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_private_details"
down_revision = "0009_bounce_events"
branch_labels = None
depends_on = None


COLUMNS = {
    "support_groups": (
        ("how_to_join_private", sa.false()),
        ("contact_private", sa.false()),
        ("notify_requests", sa.false()),
    ),
    "events": (
        ("location_private", sa.false()),
        ("online_url_private", sa.true()),
        ("notify_requests", sa.false()),
    ),
}


def upgrade():
    # A plain ADD COLUMN (with a server default, so existing rows get a value): batch mode
    # would rebuild the SQLite tables without their AUTOINCREMENT.
    for table, columns in COLUMNS.items():
        for name, default in columns:
            op.add_column(
                table, sa.Column(name, sa.Boolean(), server_default=default, nullable=False)
            )
    groups = sa.table(
        "support_groups", sa.column("how_to_join", sa.Text), sa.column("how_to_join_private")
    )
    text = sa.func.lower(groups.c.how_to_join)
    op.execute(
        groups.update()
        .where(sa.or_(text.like("%://%"), text.like("%www.%")))
        .values(how_to_join_private=sa.true())
    )


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, columns in COLUMNS.items():
        # SQLite rebuilds the table to drop a column: keep its AUTOINCREMENT.
        with op.batch_alter_table(
            table, table_kwargs={"sqlite_autoincrement": True} if sqlite else {}
        ) as batch_op:
            for name, _default in reversed(columns):
                batch_op.drop_column(name)
