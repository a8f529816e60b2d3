"""Fixtures on real parts: a migrated database (SQLite or PostgreSQL), a real SMTP server.

The backend comes from the environment the Makefile sets:
  TEST_DATABASE_URL  (default: an SQLite file in a temporary folder)
  TEST_BROKER_URL    (default: the filesystem broker in a temporary folder)
Each test runs inside a SAVEPOINT that is rolled back, so tests see a clean database
without re-creating it. Tests that need real commits (workers, the browser) ask for
`committed` instead, which empties every table afterwards.
"""

from __future__ import annotations

import os

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.orm import scoped_session, sessionmaker

from engage import create_app
from engage.extensions import db as _db
from engage.scratch import create_scratch_database, drop_scratch_database
from tests.support.smtp import SmtpServer

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Fixtures every folder may use: one Chromium and one real worker per session.
pytest_plugins = ["tests.support.fixtures_browser", "tests.support.fixtures_worker"]


def _fresh_postgres(url: str) -> str:
    """Create an empty database beside the one named in `url`, for this run only."""
    return create_scratch_database(url, "engage")


def _drop_postgres(url: str) -> None:
    drop_scratch_database(url)


@pytest.fixture(scope="session")
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory, smtp_server):
    """The environment the app under test (and any worker it starts) is built from."""
    instance = tmp_path_factory.mktemp("instance")
    database_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{instance / 'test.db'}"
    if database_url.startswith("postgres"):
        database_url = _fresh_postgres(database_url)
    settings = {
        "ENGAGE_ENV": "testing",
        "ENGAGE_INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": os.environ.get("TEST_BROKER_URL") or "filesystem://",
        "SMTP_URL": smtp_server.url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests",
        "BASE_URL": "http://engage.test",
        "MAIL_FROM": "Engage <news@engage.test>",
        # The outbox tries failed work again after 0.2 s, 0.4 s… (at most 1 s apart), and
        # relays a row nobody took after 2 s: waits in tests stay short.
        "OUTBOX_RETRY_BACKOFF": "0.2",
        "OUTBOX_RETRY_MAX_BACKOFF": "1",
        "OUTBOX_RELAY_AGAIN_SECONDS": "2",
    }
    yield settings
    if database_url.startswith("postgresql"):
        _drop_postgres(database_url)


@pytest.fixture(scope="session")
def app(test_settings):
    app = create_app({**test_settings, "WTF_CSRF_ENABLED": True})
    with app.app_context():
        upgrade()  # the real migrations, not create_all: they are what production runs
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def make_app(app, test_settings, tmp_path):
    """Build extra apps over the test settings, each test with an instance folder of its own;
    their connection pools are closed afterwards."""
    made = []

    def make(**overrides):
        config = {**test_settings, "ENGAGE_INSTANCE_PATH": str(tmp_path / "instance")}
        extra = create_app({**config, **overrides})
        app.extensions["celery"].set_default()  # building an app made its Celery the default
        made.append(extra)
        return extra

    yield make
    for extra in made:
        with extra.app_context():
            _db.engine.dispose()


@pytest.fixture
def tasks(app):
    """Runs what the test enqueued (see tests/support/tasks.py); starts from an empty queue."""
    from tests.support import tasks as support

    support.purge(app)

    class Runner:
        def run(self) -> list[str]:
            return support.run_queued(app)

    yield Runner()
    support.purge(app)


@pytest.fixture(scope="session", autouse=True)
def _empty_default_queue(app):
    """Nothing a test enqueued outlives the run (Redis keeps it otherwise)."""
    from tests.support import tasks as support

    support.purge(app)
    yield
    support.purge(app)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    """Each test starts with no rate-limit counters (they live in memory in the test app)."""
    from engage.extensions import limiter

    with app.app_context():
        limiter.reset()
    yield


@pytest.fixture(autouse=True)
def _smtp_clean(smtp_server):
    smtp_server.reset()
    yield


@pytest.fixture
def db(app, request):
    """The database inside a SAVEPOINT that is rolled back after the test."""
    if "committed" in request.fixturenames:
        yield _db
        return
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        original = _db.session
        _db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=original.registry.scopefunc,
        )
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def committed(app):
    """Real commits, for tests that share the database with another process or thread."""
    yield _db
    with app.app_context():
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (our table names)


@pytest.fixture
def ctx(app, db):
    """An app context around the test, with the per-test database."""
    with app.app_context():
        yield


@pytest.fixture
def client(app, db):
    with app.test_client() as client:
        yield client


def csrf_token(client, url: str) -> str:
    """The CSRF token from the form on `url`, as a browser would get it."""
    import re

    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)
