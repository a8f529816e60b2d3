"""ids in links are never reused; links carry a per-row key; sessions a per-user key

Revision ID: 0007_link_ids
Revises: 0006_sending_outbox
Create Date: 2026-12-02 10:00:00

SQLite hands the highest rowid out again after a delete unless the table is AUTOINCREMENT, so
a link to an erased reader could open the next reader's preferences. Every table whose id is
in a link, a token or a session becomes AUTOINCREMENT (SQLite only: a rebuild in batch mode;
env.py turns foreign keys off around it so the children's rows survive the rebuild), and the
rows a token names get a random key that every token carries (`link_key`; `session_key` for
staff sessions; a subscriber's key derives from its random unsubscribe id). Existing rows get
a fresh key here, so links signed before this revision stop working; unsubscribe links
(`/u/<id>`) are unaffected.

Stored server replies are redacted too: addresses in `deliveries.smtp_reply` and
`newsletters.paused_reason` are masked (the model's column type does it from now on).

Self-contained on purpose: nothing here imports the application.
"""

import re
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007_link_ids"
down_revision = "0006_sending_outbox"
branch_labels = None
depends_on = None

# Every table whose id appears in a link, a token or a session, and the key column it gets.
TABLES = {
    # A subscriber's link key is derived from the random unsubscribe id it already has.
    "subscribers": None,
    "consents": None,  # named by the confirmation link, bound through its subscriber's key
    "comments": "link_key",
    "commenters": "link_key",
    "moderation_links": "link_key",
    "support_groups": "link_key",
    "events": "link_key",
    "users": "session_key",
    "api_keys": None,  # found by the key's hash; its id only must never be reused
}
KEY_LENGTH = 32
BATCH = 1000

# As engage.mail.message.redact_addresses (copied: migrations do not import the app).
_ADDRESS = re.compile(
    r"""(?P<local>"[^"\r\n]*"|[\w.!#$%&'*+/=?^`{|}~-]+)"""
    r"@(?P<domain>\[[^\]\s]*\]|[\w-]+(?:\.[\w-]+)*)"
)
REDACTED = {"deliveries": "smtp_reply", "newsletters": "paused_reason"}


def _redact(text: str) -> str:
    def mask(match: re.Match) -> str:
        local = match.group("local").strip('"')
        lead = re.match(r"[^\w]*", local).group()
        return f"{lead}{local[len(lead) : len(lead) + 1]}•••@{match.group('domain')}"

    return _ADDRESS.sub(mask, text)[:500]


def _new_key() -> str:
    return secrets.token_urlsafe(16)  # 128 bits, 22 characters, as engage.types.opaque_id


def _fill_keys(table: str, column: str) -> None:
    conn = op.get_bind()
    rows = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.String))
    ids = conn.execute(sa.select(rows.c.id).order_by(rows.c.id)).scalars().all()
    statement = (
        rows.update()
        .where(rows.c.id == sa.bindparam("row_id"))
        .values({column: sa.bindparam("key")})
    )
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        conn.execute(statement, [{"row_id": i, "key": _new_key()} for i in chunk])


def _redact_stored_replies() -> None:
    conn = op.get_bind()
    for table, column in REDACTED.items():
        rows = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.String))
        found = conn.execute(
            sa.select(rows.c.id, rows.c[column]).where(rows.c[column].like("%@%"))
        ).all()
        changed = [
            {"row_id": row_id, "text": _redact(text)}
            for row_id, text in found
            if _redact(text) != text
        ]
        if changed:
            conn.execute(
                rows.update()
                .where(rows.c.id == sa.bindparam("row_id"))
                .values({column: sa.bindparam("text")}),
                changed,
            )


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade():
    sqlite = _sqlite()
    for table, column in TABLES.items():
        if column:
            op.add_column(table, sa.Column(column, sa.String(length=KEY_LENGTH), nullable=True))
            _fill_keys(table, column)
        # On SQLite the table is rebuilt (AUTOINCREMENT is part of CREATE TABLE); elsewhere
        # only the new column becomes NOT NULL.
        with op.batch_alter_table(
            table,
            recreate="always" if sqlite else "auto",
            table_kwargs={"sqlite_autoincrement": True} if sqlite else {},
        ) as batch_op:
            if column:
                batch_op.alter_column(
                    column, existing_type=sa.String(length=KEY_LENGTH), nullable=False
                )
    _redact_stored_replies()


def downgrade():
    sqlite = _sqlite()
    for table, column in reversed(TABLES.items()):
        with op.batch_alter_table(
            table,
            recreate="always" if sqlite else "auto",
            table_kwargs={"sqlite_autoincrement": False} if sqlite else {},
        ) as batch_op:
            if column:
                batch_op.drop_column(column)
