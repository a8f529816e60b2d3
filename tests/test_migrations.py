"""The migrations are the schema: one head, they match the models, and they run both ways."""

from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from engage import create_app
from engage.extensions import db
from tests.conftest import _drop_postgres, _fresh_postgres

MIGRATIONS = Path(__file__).parent.parent / "engage" / "migrations"


def test_there_is_exactly_one_head(app):
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(str(MIGRATIONS))
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_downgrade_and_upgrade_again(test_settings, tmp_path):
    url = test_settings["DATABASE_URL"]
    fresh = (
        _fresh_postgres(url) if url.startswith("postgresql") else f"sqlite:///{tmp_path / 'm.db'}"
    )
    app = create_app({**test_settings, "DATABASE_URL": fresh})
    try:
        with app.app_context():
            upgrade()
            downgrade(revision="base")
            upgrade()
            assert "subscribers" in db.inspect(db.engine).get_table_names()
            db.engine.dispose()
    finally:
        if fresh.startswith("postgresql"):
            _drop_postgres(fresh)


# Every table whose id appears in a link, a token or a session.
LINK_TABLES = (
    "subscribers",
    "consents",
    "comments",
    "commenters",
    "moderation_links",
    "support_groups",
    "events",
    "users",
    "api_keys",
)


def test_ids_in_links_are_never_reused_on_sqlite(app):
    with app.app_context():
        for name in LINK_TABLES:
            assert db.metadata.tables[name].kwargs.get("sqlite_autoincrement") is True, name
        if db.engine.dialect.name != "sqlite":
            return
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            schema = {name: sql for name, sql in rows}
    for name in LINK_TABLES:
        assert "AUTOINCREMENT" in schema[name], name


def _insert(conn, table: str, **values) -> None:
    columns = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)  # noqa: S608


def test_the_link_ids_migration_keeps_every_row_and_gives_each_a_key(test_settings, tmp_path):
    url = test_settings["DATABASE_URL"]
    fresh = (
        _fresh_postgres(url) if url.startswith("postgresql") else f"sqlite:///{tmp_path / 'l.db'}"
    )
    app = create_app({**test_settings, "DATABASE_URL": fresh})
    when = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with app.app_context():
            upgrade(revision="0005_digests")
            with db.engine.begin() as conn:
                _insert(
                    conn, "topics", id=1, slug="news", name="News", description="", is_default=True
                )
                for n in (1, 2):
                    _insert(
                        conn,
                        "subscribers",  # ids 1 and 2: the database is new
                        email=f"reader{n}@example.org",
                        email_hash=f"{n}" * 64,
                        status="confirmed",
                        digest="off",
                        timezone="UTC",
                        interests="{}",
                        unsubscribe_id=f"unsubscribe-{n}",
                        created_at=when,
                        confirmations_sent_today=0,
                        hard_bounces=0,
                    )
                    _insert(
                        conn,
                        "consents",
                        subscriber_id=n,
                        source="form:/",
                        text="yes",
                        version="1",
                        consented_at=when,
                    )
                    _insert(conn, "subscriber_topics", subscriber_id=n, topic_id=1)
                _insert(
                    conn,
                    "newsletters",
                    id=1,
                    subject="Hello",
                    preheader="",
                    status="sent",
                    paused_reason="",
                    created_at=when,
                )
                for n, reply in ((1, "550 5.1.1 <reader1@example.org>: unknown"), (2, "250 ok")):
                    _insert(
                        conn,
                        "deliveries",
                        newsletter_id=1,
                        subscriber_id=n,
                        status="failed" if n == 1 else "sent",
                        attempts=1,
                        smtp_reply=reply,
                        created_at=when,
                    )
                _insert(
                    conn,
                    "users",
                    id=1,
                    email="editor@example.org",
                    display_name="",
                    password_hash="x",
                    role="editor",
                    active=True,
                    created_at=when,
                )
            upgrade()
            with db.engine.connect() as conn:

                def count(table: str) -> int:
                    return conn.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608

                assert [count(t) for t in ("subscribers", "consents", "subscriber_topics")] == [
                    2,
                    2,
                    2,
                ]
                assert count("deliveries") == 2
                keys = conn.scalars(text("SELECT session_key FROM users")).all()
                assert len(keys) == 1 and len(keys[0]) >= 22
                replies = set(conn.scalars(text("SELECT smtp_reply FROM deliveries")))
                assert replies == {"550 5.1.1 <r•••@example.org>: unknown", "250 ok"}
            # Foreign keys still hold after the rebuild: erasing a reader takes their rows.
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM subscribers WHERE id = 2"))
                _insert(
                    conn,
                    "subscribers",
                    email="reader3@example.org",
                    email_hash="3" * 64,
                    status="pending",
                    digest="off",
                    timezone="UTC",
                    interests="{}",
                    unsubscribe_id="unsubscribe-3",
                    created_at=when,
                    confirmations_sent_today=0,
                    hard_bounces=0,
                )
            with db.engine.connect() as conn:
                assert count("consents") == count("deliveries") == 1
                assert (
                    conn.scalar(
                        text("SELECT id FROM subscribers WHERE unsubscribe_id = 'unsubscribe-3'")
                    )
                    == 3
                )
            downgrade(revision="0005_digests")
            with db.engine.connect() as conn:
                assert [count(t) for t in ("subscribers", "consents", "deliveries")] == [2, 1, 1]
            db.engine.dispose()
    finally:
        if fresh.startswith("postgresql"):
            _drop_postgres(fresh)
