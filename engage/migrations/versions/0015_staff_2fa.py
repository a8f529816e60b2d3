"""Staff invitations and TOTP two-factor sign-in

Revision ID: 0015_staff_2fa
Revises: 0017_import_columns
Create Date: 2026-12-02 12:00:00

"""

import sqlalchemy as sa
from alembic import op

import engage.types

revision = "0015_staff_2fa"
down_revision = "0017_import_columns"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, not a batch: rebuilding the table on SQLite would drop AUTOINCREMENT.
    for column in (
        sa.Column("invite_secret", sa.String(length=32), nullable=True),
        sa.Column("invited_at", engage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("totp_secret", sa.String(length=255), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("totp_last_counter", sa.Integer(), nullable=True),
        sa.Column("recovery_codes", sa.Text(), nullable=True),
    ):
        op.add_column("users", column)


def downgrade():
    with op.batch_alter_table(
        "users", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        for name in (
            "recovery_codes",
            "totp_last_counter",
            "totp_enabled",
            "totp_secret",
            "invited_at",
            "invite_secret",
        ):
            batch_op.drop_column(name)
