"""Newsletter fixtures: readers and topics as rows, and real Celery workers for the send tests.

The workers are built from the test environment plus short send settings (a 3 second lease,
small batches, quick retries), so recovery after a kill takes seconds, not minutes.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from sqlalchemy import insert, select

from engage import create_app
from engage.extensions import db as _db
from engage.newsletters import service
from engage.newsletters.models import Newsletter
from engage.sending import throttle
from engage.sending.models import Delivery
from engage.subscriptions.models import Subscriber, Topic, subscriber_topics
from engage.subscriptions.service import address_hash
from engage.types import opaque_id, utcnow
from tests.support.worker import CeleryWorker, forget_queue

SEND_SETTINGS = {
    "SEND_LEASE_SECONDS": "3",
    "SEND_BATCH_SIZE": "10",
    "SEND_RETRY_BACKOFF": "0.02",
    "SEND_PAUSE_AFTER_FAILURES": "5",
    "SEND_RATE_PER_SECOND": "0",
    "SMTP_MAX_CONNECTIONS": "2",
    # A 4xx for one reader is tried again after 0.05 s, 0.1 s, 0.2 s…, eight times at most.
    "SEND_DEFER_BACKOFF": "0.05",
    "SEND_DEFER_ATTEMPTS": "8",
}
_serial = itertools.count(1)


def add_topic(session, slug: str | None = None) -> Topic:
    slug = slug or f"topic-{next(_serial)}"
    topic = Topic(slug=slug, name=slug.title())
    session.add(topic)
    session.flush()
    return topic


def add_readers(session, count: int, topics: list[Topic], status: str = "confirmed") -> list[str]:
    """`count` readers of `topics`, inserted in bulk; returns their addresses in id order."""
    batch = next(_serial)
    addresses = [f"reader{batch}-{i:05d}@example.org" for i in range(count)]
    now = utcnow()
    session.execute(
        insert(Subscriber),
        [
            {
                "email": address,
                "email_hash": address_hash(address),
                "status": status,
                "digest": "off",
                "timezone": "UTC",
                "interests": {},
                "unsubscribe_id": opaque_id(),
                "created_at": now,
                "confirmed_at": now if status == "confirmed" else None,
                "confirmations_sent_today": 0,
                "hard_bounces": 0,
            }
            for address in addresses
        ],
    )
    ids = session.scalars(select(Subscriber.id).where(Subscriber.email.in_(addresses))).all()
    session.execute(
        insert(subscriber_topics),
        [{"subscriber_id": i, "topic_id": t.id} for i in ids for t in topics],
    )
    session.flush()
    return addresses


def add_newsletter(session, topics: list[Topic], **fields) -> Newsletter:
    values = {
        "subject": "News from the groups",
        "body_markdown": "Hello,\n\nA [new group](https://example.org/groups/1) meets on Monday.",
        **fields,
    }
    return service.create_newsletter(
        session, topic_slugs=[topic.slug for topic in topics], **values
    )


def delivery_statuses(session, newsletter_id: int) -> Counter:
    return Counter(
        session.scalars(select(Delivery.status).where(Delivery.newsletter_id == newsletter_id))
    )


@pytest.fixture
def readers(ctx, db):
    """`readers(n, *topics)` → addresses of n confirmed readers in the test's savepoint."""

    def make(count: int, *topics: Topic, status: str = "confirmed") -> list[str]:
        return add_readers(db.session, count, list(topics), status)

    return make


@pytest.fixture
def topic(ctx, db):
    return add_topic(db.session)


@pytest.fixture(scope="session")
def send_settings(test_settings):
    return {**test_settings, **SEND_SETTINGS}


@pytest.fixture(scope="session")
def sender(app, send_settings):
    """An app over the worker's settings, for the test's own rows and enqueued tasks."""
    made = create_app(send_settings)
    # One queue for the session: Celery caches its routing at the first send.
    made.extensions["celery"].conf.task_default_queue = f"engage-nl-{opaque_id()[:10].lower()}"
    app.extensions["celery"].set_default()
    yield made
    with made.app_context():
        _db.engine.dispose()
    forget_queue(send_settings["CELERY_BROKER_URL"], _queue(made))


def _queue(app) -> str:
    return app.extensions["celery"].conf.task_default_queue


def _purge(app) -> None:
    celery = app.extensions["celery"]
    with celery.connection_for_write() as conn:
        queue = conn.SimpleQueue(_queue(app))
        queue.clear()
        queue.close()


@pytest.fixture
def start_worker(send_settings, sender, tmp_path):
    """`start_worker()` → a running CeleryWorker on the sender's queue; all stopped after."""
    started: list[CeleryWorker] = []
    queue = _queue(sender)
    _purge(sender)  # nothing left over from an earlier test

    def start(**env) -> CeleryWorker:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = CeleryWorker({**send_settings, **env}, log, queue=queue)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
    _purge(sender)


@pytest.fixture
def live(sender, committed):
    """The sender app's context over committed rows (tables emptied afterwards), with the
    send limits (connection slots, rate) forgotten before and after."""
    with sender.app_context():
        throttle.reset(sender.config["ENGAGE"])
        _db.session.remove()
        yield _db
        _db.session.rollback()
        throttle.reset(sender.config["ENGAGE"])
        _db.session.remove()
