"""The mail server down for longer than the old retry window (a Celery task that gave up after
eight retries), then back: the confirmation still arrives, once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.sending.models import OutboxMessage
from engage.subscriptions.models import Subscriber, Topic
from tests.conftest import csrf_token
from tests.faults.conftest import FAULT_SETTINGS, instance, read
from tests.support.smtp import SmtpServer, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker

OLD_RETRIES = 8  # what the confirmation task used to try before giving up for good


def test_a_confirmation_waits_out_a_long_mail_server_outage(
    make_app, test_settings, workers, committed, tmp_path
):
    port = free_port()  # nothing listens: the mail server is down
    env = {
        **test_settings,
        **FAULT_SETTINGS,
        "SMTP_URL": f"smtp://127.0.0.1:{port}",
        "ENGAGE_INSTANCE_PATH": instance(tmp_path, "instance"),
    }
    worker = workers.start(env, beat=True)
    app = make_app(**env, CELERY_QUEUE=worker.queue)
    with app.app_context():
        committed.session.add(Topic(slug="newsletter", name="The newsletter", is_default=True))
        committed.session.commit()
        committed.session.remove()

    client = app.test_client()
    page = client.post(
        "/subscribe",
        data={
            "csrf_token": csrf_token(client, "/subscribe"),
            "email": "patient@example.org",
            "topics": ["newsletter"],
            "digest": "off",
            "source": "/subscribe",
        },
        follow_redirects=True,
    )
    assert "Check your email" in page.get_data(as_text=True)

    def row():
        return read(
            app,
            lambda s: s.execute(
                select(OutboxMessage.attempts, OutboxMessage.status, OutboxMessage.last_error)
            ).one(),
        )

    wait_until(
        lambda: row().attempts > OLD_RETRIES + 1,
        120,
        message=lambda: f"the outbox stopped trying: {worker.log()[-3000:]}",
    )
    down = row()
    assert down.status in ("pending", "running")
    assert "cannot connect" in down.last_error or down.status == "running"
    consent_sent = read(
        app, lambda s: s.scalar(select(Subscriber)).consents[0].confirmation_sent_at
    )
    assert consent_sent is None  # not "sent" while no server accepted it

    server = SmtpServer(port=port).start()  # the mail server is back
    try:
        [message] = server.wait_for(1, timeout=60)
        assert message.rcpt_tos == ["patient@example.org"]
        wait_until(lambda: row().status == "done", 30)
        consent_sent = read(
            app, lambda s: s.scalar(select(Subscriber)).consents[0].confirmation_sent_at
        )
        assert consent_sent is not None
        assert len(server.messages) == 1
    finally:
        server.stop()
