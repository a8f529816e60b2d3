"""Engine set-up that makes SQLite behave like the PostgreSQL we run in production."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from engage.extensions import db

log = logging.getLogger(__name__)

DB_RETRY_SECONDS = 120.0  # how long a worker waits for a database that went away


def _configure_sqlite(engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide where transactions begin, so SAVEPOINT works,
        # and enforce foreign keys as PostgreSQL does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE takes the write lock up front. A deferred transaction that reads, then
        # writes after a worker committed, fails at once with "database is locked" (WAL gives
        # it no way to wait); this way it waits its turn (busy_timeout) instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)


def is_postgres(session) -> bool:
    """Whether `session` talks to PostgreSQL (row locks with SKIP LOCKED, RETURNING order)."""
    return session.get_bind().dialect.name == "postgresql"


def is_disconnect(exc: BaseException) -> bool:
    """A database error that means the connection (or the server) went away."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True  # refused, reset, the server shutting down (and SQLite's busy lock)
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def retry_database(
    work: Callable[[], object],
    *,
    on_disconnect: Callable[[], None],
    window: float = DB_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
):
    """`work()`, run again after a lost database connection until `window` seconds passed
    (then the last error is raised). `work` must be safe to repeat; `on_disconnect` drops
    what held the dead connection (a session's rollback)."""
    deadline = time.monotonic() + window
    delay = 0.2
    while True:
        try:
            return work()
        except DBAPIError as exc:
            if not is_disconnect(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("database unreachable (%s); trying again in %.1fs", exc.orig, delay)
            with contextlib.suppress(DBAPIError):
                on_disconnect()
            sleep(delay)
            delay = min(delay * 2, 5.0)
