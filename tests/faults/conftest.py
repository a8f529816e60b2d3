"""Fault tests: real servers of the test's own (Redis, PostgreSQL, SMTP) stopped and started
again while readers sign up and newsletters send, with real workers running beat inside.

Every wait polls for a condition with a deadline. The machine's shared Redis and PostgreSQL
are never stopped: each test starts private ones on free ports and stops them by pid.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from engage.extensions import db as _db
from tests.newsletters.conftest import SEND_SETTINGS
from tests.support.worker import CeleryWorker, forget_queue

# Quick beat, quick outbox retries, a lease long enough to outlast a database restart.
FAULT_SETTINGS = {
    **SEND_SETTINGS,
    "SEND_LEASE_SECONDS": "60",
    "OUTBOX_RELAY_SECONDS": "0.5",
    "OUTBOX_RELAY_AGAIN_SECONDS": "2",
    "OUTBOX_RETRY_BACKOFF": "0.2",
    "OUTBOX_RETRY_MAX_BACKOFF": "0.5",
    "OUTBOX_LEASE_SECONDS": "30",
}


@pytest.fixture
def workers(tmp_path):
    """`workers.start(env, beat=…)` → a running CeleryWorker; all stopped (and their Redis
    queues forgotten) afterwards."""

    class Workers:
        def __init__(self):
            self.started: list[CeleryWorker] = []

        def start(self, env: dict[str, str], beat: bool = False, queue: str | None = None):
            log = tmp_path / f"worker-{len(self.started)}.log"
            worker = CeleryWorker(env, log, queue=queue, beat=beat)
            self.started.append(worker)
            return worker.start()

    made = Workers()
    yield made
    for worker in made.started:
        worker.stop()
        forget_queue(worker.env["CELERY_BROKER_URL"], worker.queue)


def read(app, query):
    """Run `query(session)` in a short transaction of the app's own; None while the database
    is unreachable (a restart in progress)."""
    with app.app_context():
        try:
            return query(_db.session)
        except DBAPIError:
            return None
        finally:
            _db.session.rollback()
            _db.session.remove()


def instance(tmp_path: Path, name: str) -> str:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)
