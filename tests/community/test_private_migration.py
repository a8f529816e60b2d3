"""The migration that adds private joining details: rows from before it get safe values."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from engage import create_app
from engage.extensions import db
from tests.conftest import _drop_postgres, _fresh_postgres

BEFORE = "0008_keys_moderation"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def _insert(conn, table: str, **values) -> None:
    columns = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)  # noqa: S608


def _group(conn, n: int, how_to_join: str) -> None:
    _insert(
        conn, "support_groups", slug=f"g{n}", name=f"Group {n}", description="", purposes="[]",
        format="online", region="Online", city="", schedule="", language="English",
        run_by="peer", cost="Free", how_to_join=how_to_join, contact="a@example.org",
        status="approved", rejection_reason="", created_at=WHEN, timezone="UTC",
        link_key=f"key{n}",
    )  # fmt: skip


def _event(conn, n: int, online_url: str) -> None:
    _insert(
        conn, "events", slug=f"e{n}", title=f"Event {n}", description="", starts_at=WHEN,
        ends_at=WHEN, timezone="UTC", location="Hall" if not online_url else "",
        online_url=online_url, status="approved", rejection_reason="", created_at=WHEN,
        link_key=f"key{n}",
    )  # fmt: skip


def test_existing_online_links_become_private(test_settings, tmp_path):
    url = test_settings["DATABASE_URL"]
    fresh = (
        _fresh_postgres(url) if url.startswith("postgresql") else f"sqlite:///{tmp_path / 'p.db'}"
    )
    app = create_app({**test_settings, "DATABASE_URL": fresh})
    try:
        with app.app_context():
            upgrade(revision=BEFORE)
            with db.engine.begin() as conn:
                _group(conn, 1, "Join the call at https://call.example.org/x")
                _group(conn, 2, "Just turn up.")
                _group(conn, 3, "See WWW.example.org for the link")
                _event(conn, 1, "https://meet.example.org/y")
                _event(conn, 2, "")
            upgrade()
            with db.engine.connect() as conn:
                groups = conn.execute(
                    text(
                        "SELECT slug, how_to_join_private, contact_private, notify_requests "
                        "FROM support_groups ORDER BY slug"
                    )
                ).all()
                events = conn.execute(
                    text(
                        "SELECT slug, location_private, online_url_private, notify_requests "
                        "FROM events ORDER BY slug"
                    )
                ).all()
            assert [tuple(map(bool, row[1:])) for row in groups] == [
                (True, False, False),
                (False, False, False),
                (True, False, False),
            ]
            # Every event's link is private (an event without one has nothing to hide).
            assert [tuple(map(bool, row[1:])) for row in events] == [
                (False, True, False),
                (False, True, False),
            ]
            if db.engine.dialect.name == "sqlite":
                with db.engine.connect() as conn:
                    schema = dict(
                        conn.exec_driver_sql(
                            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                        ).all()
                    )
                assert "AUTOINCREMENT" in schema["support_groups"]
                assert "AUTOINCREMENT" in schema["events"]
            downgrade(revision=BEFORE)
            with db.engine.connect() as conn:
                assert conn.scalar(text("SELECT count(*) FROM support_groups")) == 3
                if db.engine.dialect.name == "sqlite":
                    sql = conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'events'"))
                    assert "AUTOINCREMENT" in sql
            db.engine.dispose()
    finally:
        if fresh.startswith("postgresql"):
            _drop_postgres(fresh)
