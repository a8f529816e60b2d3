"""The outbox: work is written with the change that causes it, handed to the broker by id, and
run once however often it is delivered. In-process runs (`tasks`) use the real broker."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from engage.accounts.service import create_user
from engage.extensions import db as _db
from engage.mail import emails
from engage.mail.service import queue_email
from engage.queue import relay_sender
from engage.sending import outbox
from engage.sending.models import OutboxMessage
from engage.subscriptions.models import Subscriber, Topic
from engage.types import utcnow
from tests.conftest import csrf_token

PASSWORD = "a long enough password"


def queue_test_message(to: str) -> None:
    queue_email("test_message", to, emails.test_message(to))


def rows(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
def topic(ctx, db):
    topic = Topic(slug="newsletter", name="The newsletter", is_default=True)
    db.session.add(topic)
    db.session.commit()
    return topic


def sign_up(client, email: str):
    return client.post(
        "/subscribe",
        data={
            "csrf_token": csrf_token(client, "/subscribe"),
            "email": email,
            "topics": ["newsletter"],
            "digest": "off",
            "source": "/subscribe",
        },
        follow_redirects=True,
    )


def sign_in(client, email: str) -> None:
    """Through the login form, as a person would."""
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "email": email,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_a_rolled_back_change_leaves_no_work(ctx, db, tasks, smtp_server):
    queue_test_message("reader@example.org")
    db.session.rollback()
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert tasks.run() == []
    assert smtp_server.messages == []


def test_the_broker_carries_the_row_id_and_never_the_address(app, ctx, db, smtp_server):
    queue_test_message("private.reader@example.org")
    db.session.commit()
    [row] = rows(db.session)
    assert row.status == "pending" and row.recipient == "private.reader@example.org"

    celery = app.extensions["celery"]
    with celery.connection_for_read() as conn:
        queue = conn.SimpleQueue(celery.conf.task_default_queue)
        message = queue.get(block=True, timeout=5)
        args, kwargs, _ = message.decode()
        assert message.headers["task"] == "engage.send_email"
        assert (args, kwargs) == ([], {"_outbox": row.id})
        assert b"private.reader" not in message.body
        message.ack()
        queue.close()
    celery.tasks["engage.send_email"].apply(kwargs=kwargs, throw=True)

    [received] = smtp_server.messages
    assert received.rcpt_tos == ["private.reader@example.org"]
    db.session.refresh(row)
    assert row.status == "done" and row.finished_at is not None and row.attempts == 1


def test_a_row_delivered_twice_sends_one_email(app, ctx, db, tasks, smtp_server):
    queue_test_message("reader@example.org")
    db.session.commit()
    [row] = rows(db.session)
    # The broker redelivers it (a worker lost its connection before the ack, say).
    app.extensions["celery"].send_task("engage.send_email", kwargs={"_outbox": row.id})

    assert tasks.run() == ["engage.send_email", "engage.send_email"]
    assert [r.rcpt_tos for r in smtp_server.messages] == [["reader@example.org"]]
    db.session.refresh(row)
    assert row.status == "done" and row.attempts == 1


def test_two_relays_at_once_send_one_email(app, committed, tasks, smtp_server):
    with app.app_context():
        queue_test_message("reader@example.org")
        outbox.forget_new_rows(_db.session())  # the kick after commit never happened
        _db.session.commit()
        # Old enough that the periodic relay no longer leaves it to the kick.
        _db.session.execute(
            update(OutboxMessage).values(created_at=utcnow() - timedelta(minutes=1))
        )
        _db.session.commit()

    start = threading.Barrier(2)
    relayed: list[int] = []

    def relay_once():
        with app.app_context():
            start.wait(10)
            relayed.append(outbox.relay(_db.session, relay_sender(app.extensions["celery"])))
            _db.session.remove()

    threads = [threading.Thread(target=relay_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(relayed) == [0, 1]  # the row was handed out by one of them
    assert tasks.run() == ["engage.send_email"]
    assert [r.rcpt_tos for r in smtp_server.messages] == [["reader@example.org"]]


def test_a_temporary_failure_is_tried_again_later_not_lost(app, ctx, db, tasks, smtp_server):
    # The task's own quick attempts all meet a busy server.
    smtp_server.script("451 4.3.0 busy", "451 4.3.0 busy", "451 4.3.0 busy")
    queue_test_message("reader@example.org")
    db.session.commit()
    assert tasks.run() == ["engage.send_email"]
    [row] = rows(db.session)
    db.session.refresh(row)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at > utcnow() - timedelta(seconds=1)
    assert "451 4.3.0 busy" in row.last_error
    assert smtp_server.messages == []

    # Once due, the periodic relay hands it out again and it goes.
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert outbox.relay(db.session, relay_sender(app.extensions["celery"])) == 1
    assert tasks.run() == ["engage.send_email"]
    assert [r.rcpt_tos for r in smtp_server.messages] == [["reader@example.org"]]
    db.session.refresh(row)
    assert row.status == "done" and row.attempts == 2


def test_a_confirmation_that_fails_for_a_day_is_shown_and_a_new_sign_up_sends_a_fresh_one(
    app, client, topic, db, tasks, smtp_server
):
    assert "Check your email" in sign_up(client, "reader@example.org").get_data(as_text=True)
    [row] = rows(db.session)
    assert row.email == "subscription_confirm"
    # Queued a day ago and failing ever since: this attempt is the last in the window.
    db.session.execute(
        update(OutboxMessage).values(created_at=utcnow() - timedelta(hours=24, minutes=1))
    )
    db.session.commit()
    smtp_server.script(*["452 4.2.2 Mailbox full for <reader@example.org>"] * 3)
    assert tasks.run() == ["engage.send_email"]
    db.session.refresh(row)
    assert row.status == "failed"
    assert "452 4.2.2 Mailbox full" in row.last_error
    assert "reader@example.org" not in row.last_error  # the reply is stored redacted
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.consents[0].confirmation_sent_at is None  # never said "sent"

    # Staff see it, on the admin page and in the list, with the server's reply.
    user = create_user(db.session, "editor@example.org", PASSWORD, "editor")
    db.session.commit()
    sign_in(client, user.email)
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "1 email could not be sent" in dashboard
    listing = client.get("/admin/mail/failed").get_data(as_text=True)
    assert "subscription_confirm" in listing and "452 4.2.2 Mailbox full" in listing
    assert "reader@example.org" not in listing and "r•••@example.org" in listing
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})

    # Signing up again, within the cooldown, sends a fresh confirmation at once.
    assert "Check your email" in sign_up(client, "reader@example.org").get_data(as_text=True)
    assert tasks.run() == ["engage.send_email"]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["reader@example.org"]
    assert "confirm" in received.message["Subject"].lower()
    db.session.refresh(subscriber)
    assert subscriber.consents[-1].confirmation_sent_at is not None


def test_staff_can_try_a_failed_email_again(app, client, ctx, db, tasks, smtp_server):
    queue_test_message("reader@example.org")
    db.session.commit()
    smtp_server.script("550 5.1.1 No such user")
    assert tasks.run() == ["engage.send_email"]
    [row] = rows(db.session)
    db.session.refresh(row)
    assert row.status == "failed" and row.attempts == 1  # a 5xx is final at once

    user = create_user(db.session, "editor@example.org", PASSWORD, "editor")
    db.session.commit()
    sign_in(client, user.email)
    token = csrf_token(client, "/admin/mail/failed")
    response = client.post(f"/admin/mail/failed/{row.id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    assert tasks.run() == ["engage.send_email"]
    assert [r.rcpt_tos for r in smtp_server.messages] == [["reader@example.org"]]
    db.session.refresh(row)
    assert row.status == "done"


def test_moderators_cannot_see_failed_mail(client, ctx, db):
    user = create_user(db.session, "mod@example.org", PASSWORD, "moderator")
    db.session.commit()
    sign_in(client, user.email)
    assert client.get("/admin/mail/failed").status_code == 403
