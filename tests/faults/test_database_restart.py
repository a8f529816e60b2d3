"""A PostgreSQL cluster of the test's own restarted in the middle of a send: every reader gets
exactly one copy, and a request during the restart gets a clear 503, never a 500."""

from __future__ import annotations

from collections import Counter

import pytest
from flask_migrate import upgrade

from engage import create_app
from engage.extensions import db as _db
from engage.newsletters import service
from engage.newsletters.models import Newsletter
from tests.faults.conftest import FAULT_SETTINGS, instance, read
from tests.newsletters.conftest import add_newsletter, add_readers, add_topic
from tests.support.servers import PostgresCluster
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker


@pytest.fixture
def cluster():
    server = PostgresCluster().init().start()
    yield server
    server.stop()


def test_a_postgres_restart_mid_send_loses_nothing_and_sends_nothing_twice(
    cluster, test_settings, workers, smtp_server, tmp_path
):
    env = {
        **test_settings,
        **FAULT_SETTINGS,
        "DATABASE_URL": cluster.create_database(),
        "ENGAGE_INSTANCE_PATH": instance(tmp_path, "instance"),
    }
    migrator = create_app(env)
    with migrator.app_context():
        upgrade()
        _db.engine.dispose()
    first = workers.start(env, beat=True)  # exactly one beat
    workers.start(env, queue=first.queue)
    app = create_app({**env, "CELERY_QUEUE": first.queue})
    try:
        with app.app_context():
            session = _db.session
            topic = add_topic(session)
            addresses = add_readers(session, 150, [topic])
            newsletter = add_newsletter(session, [topic])
            service.send_now(session, newsletter)
            newsletter_id = newsletter.id
            session.commit()
            session.remove()
        smtp_server.slow(0.02)

        wait_until(lambda: len(smtp_server.messages) >= 30, 60, message=lambda: first.log()[-3000:])
        cluster.restart()  # every connection is cut; the server is back a moment later

        # A reader's request while connections are being re-made gets a page, never a 500.
        page = app.test_client().get("/newsletters")
        assert page.status_code in (200, 503)

        def status() -> str | None:
            return read(app, lambda s: s.get(Newsletter, newsletter_id).status)

        wait_until(
            lambda: status() == "sent",
            120,
            message=lambda: f"{first.log()[-2000:]}\n---\n{workers.started[1].log()[-2000:]}",
        )
        got = Counter(r for m in smtp_server.messages for r in m.rcpt_tos)
        assert got == Counter(addresses), {a: n for a, n in got.items() if n != 1}
    finally:
        with app.app_context():
            _db.engine.dispose()
