"""Redis (broker and rate-limit store) stopped while readers sign up and while a newsletter
sends, then started again: every confirmation and every newsletter arrives exactly once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from engage.newsletters import service
from engage.newsletters.models import Newsletter
from engage.sending.models import OutboxMessage
from engage.subscriptions.models import Topic
from tests.conftest import csrf_token
from tests.faults.conftest import FAULT_SETTINGS, instance, read
from tests.newsletters.conftest import add_newsletter, add_readers, add_topic
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def broker_env(test_settings, redis_server, tmp_path, make_app):
    yield {
        **test_settings,
        **FAULT_SETTINGS,
        "CELERY_BROKER_URL": redis_server.url,
        "RATELIMIT_STORAGE_URI": redis_server.url,
        "ENGAGE_INSTANCE_PATH": instance(tmp_path, "instance"),
    }
    # Flask-Limiter keeps one storage per process, bound by the last app built: give it back
    # to the suite's own storage before this Redis goes away.
    make_app()


def received(smtp_server) -> Counter:
    return Counter(rcpt for message in smtp_server.messages for rcpt in message.rcpt_tos)


def outbox_rows(app, condition) -> int | None:
    return read(app, lambda s: s.scalar(select(func.count()).where(condition)))


def test_sign_ups_while_redis_is_down_each_get_one_confirmation(
    make_app, broker_env, redis_server, workers, committed, smtp_server
):
    worker = workers.start(broker_env, beat=True)
    app = make_app(**broker_env, CELERY_QUEUE=worker.queue)
    with app.app_context():
        committed.session.add(Topic(slug="newsletter", name="The newsletter", is_default=True))
        committed.session.commit()
        committed.session.remove()

    redis_server.stop()
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["broker"]["ok"] is False
    assert health.get_json()["database"]["ok"] is True
    addresses = [f"reader{i}@example.org" for i in range(5)]
    for address in addresses:
        page = client.post(
            "/subscribe",
            data={
                "csrf_token": csrf_token(client, "/subscribe"),
                "email": address,
                "topics": ["newsletter"],
                "digest": "off",
                "source": "/subscribe",
            },
            follow_redirects=True,
        )
        # The sign-up is kept and the reader told the truth: the email is on its way.
        assert page.status_code == 200
        assert "Check your email" in page.get_data(as_text=True)
    waiting = read(
        app, lambda s: s.scalar(select(func.count()).where(OutboxMessage.status == "pending"))
    )
    assert waiting == 5
    assert smtp_server.messages == []

    redis_server.start()  # same port: the worker and its beat reconnect
    wait_until(lambda: len(smtp_server.messages) >= 5, 60, message=lambda: worker.log()[-3000:])
    wait_until(
        lambda: (
            read(
                app, lambda s: s.scalar(select(func.count()).where(OutboxMessage.status != "done"))
            )
            == 0
        ),
        30,
    )
    assert received(smtp_server) == Counter(addresses)
    assert client.get("/healthz").status_code == 200


def test_a_newsletter_sending_while_redis_restarts_reaches_everyone_once(
    make_app, broker_env, redis_server, workers, committed, smtp_server
):
    worker = workers.start(broker_env, beat=True)
    app = make_app(**broker_env, CELERY_QUEUE=worker.queue)
    with app.app_context():
        session = committed.session
        topic = add_topic(session)
        addresses = add_readers(session, 60, [topic])
        newsletter = add_newsletter(session, [topic])
        service.send_now(session, newsletter)
        newsletter_id = newsletter.id
        session.commit()
        session.remove()
    smtp_server.slow(0.03)  # about two seconds of sending

    wait_until(lambda: len(smtp_server.messages) >= 5, 60, message=lambda: worker.log()[-3000:])
    redis_server.stop()
    # Down while messages keep going out (the send needs only the database and SMTP)...
    before = len(smtp_server.messages)
    wait_until(
        lambda: len(smtp_server.messages) > before + 5, 30, message=lambda: worker.log()[-3000:]
    )
    redis_server.start()

    def status() -> str | None:
        return read(app, lambda s: s.get(Newsletter, newsletter_id).status)

    wait_until(lambda: status() == "sent", 90, message=lambda: worker.log()[-3000:])
    assert received(smtp_server) == Counter(addresses)
