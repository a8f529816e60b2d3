"""A real Celery worker for the whole session, on its own queue. Loaded by tests/conftest.py."""

from __future__ import annotations

import pytest

from engage import create_app
from engage.extensions import db
from tests.support.worker import CeleryWorker, forget_queue


@pytest.fixture(scope="session")
def worker(app, test_settings, tmp_path_factory):
    """A worker subprocess built from the test environment; always stopped afterwards."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = CeleryWorker(test_settings, log_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()
        forget_queue(test_settings["CELERY_BROKER_URL"], process.queue)


@pytest.fixture(scope="session")
def worker_app(app, test_settings, worker):
    """An app whose tasks go to the test worker's own queue.

    A separate app, because Celery caches its routing at the first send: other tests may
    already have sent through the session app.
    """
    sender = create_app(test_settings)
    sender.extensions["celery"].conf.task_default_queue = worker.queue
    app.extensions["celery"].set_default()
    yield sender
    with sender.app_context():
        db.engine.dispose()
