"""`engage.send_email` on a real Celery worker, queued after the database commits."""

import time

import pytest
from sqlalchemy import select

from engage.accounts.models import User
from engage.accounts.service import create_user
from engage.extensions import db
from engage.mail import emails
from engage.mail.message import bulk_headers
from engage.mail.service import queue_email
from engage.sending.models import BounceEvent, OutboxMessage
from engage.subscriptions.service import is_suppressed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.worker


def queue_test_message(to: str) -> None:
    queue_email("test_message", to, emails.test_message(to))


def test_a_committed_email_is_sent_by_the_worker(worker_app, committed, smtp_server):
    with worker_app.app_context():
        queue_test_message("reader@example.org")
        assert smtp_server.messages == []  # nothing before the commit
        db.session.commit()

    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["reader@example.org"]
    msg = received.message
    assert msg["Subject"] == "Test email from Engage"
    assert msg["From"] == "Engage <news@engage.test>"
    assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    assert "List-Unsubscribe" not in msg


def test_list_headers_travel_with_the_task(worker_app, committed, smtp_server):
    url = "https://engage.test/u/" + "a" * 40
    with worker_app.app_context():
        context = {**emails.test_message("member@example.org"), "unsubscribe_url": url}
        queue_email(
            "test_message",
            "member@example.org",
            context,
            headers=bulk_headers("News <news.engage.test>", url),
        )
        db.session.commit()

    [received] = smtp_server.wait_for(1)
    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in received.raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in received.raw
    text = received.message.get_body(("plain",)).get_content()
    assert f"Unsubscribe ({url})" in " ".join(text.split())  # a long link wraps onto its own line


def test_a_rolled_back_transaction_sends_nothing(worker_app, committed, smtp_server):
    with worker_app.app_context():
        create_user(db.session, "gone@example.org", "a long enough password", "editor")
        queue_test_message("rolled-back@example.org")
        db.session.rollback()

        # The worker takes tasks in order: once this one arrives, the other would have too.
        queue_test_message("committed@example.org")
        db.session.commit()

    received = smtp_server.wait_for(1)
    assert [r.rcpt_tos for r in received] == [["committed@example.org"]]
    with worker_app.app_context():
        assert db.session.query(User).count() == 0


def test_a_permanent_failure_is_logged_and_not_retried(worker_app, worker, committed, smtp_server):
    smtp_server.script("550 5.1.1 No such user here")
    with worker_app.app_context():
        queue_test_message("nobody@example.org")
        db.session.commit()
        queue_test_message("somebody@example.org")
        db.session.commit()

    received = smtp_server.wait_for(1)
    assert [r.rcpt_tos for r in received] == [["somebody@example.org"]]
    log = worker.wait_for_log("refused permanently")
    assert "No such user here" in log
    assert "Retry in" not in log.split("refused permanently", 1)[1].split("somebody", 1)[0]
    # One rule for every bounce (engage/sending/bounces.py): "no such user" suppresses at once.
    with worker_app.app_context():
        assert is_suppressed(db.session, "nobody@example.org")
        event = db.session.scalar(select(BounceEvent))
        assert (event.kind, event.source, event.status) == ("hard", "smtp", "5.1.1")
        assert "nobody@" not in event.diagnostic


def test_temporary_failures_are_retried_by_the_outbox(worker_app, worker, committed, smtp_server):
    # Three 4xx replies use up the task's own quick attempts; the outbox row goes back to
    # pending with backoff, and the relay (beat's job, done here by the test) hands it out again.
    smtp_server.script("451 4.3.0 busy", "451 4.3.0 busy", "451 4.3.0 busy")
    with worker_app.app_context():
        queue_test_message("patient@example.org")
        db.session.commit()
        row_id = db.session.scalar(select(OutboxMessage.id))

    def retried() -> bool:
        with worker_app.app_context():
            row = db.session.get(OutboxMessage, row_id)
            db.session.rollback()
            return row.attempts == 1 and row.status == "pending"

    wait_until(retried, 20, message="the failed attempt was never put back to pending")
    with worker_app.app_context():
        row = db.session.get(OutboxMessage, row_id)
        assert "451 4.3.0 busy" in row.last_error
        db.session.rollback()

    def relayed_and_sent() -> bool:
        worker_app.extensions["celery"].send_task("engage.outbox.relay")
        return bool(smtp_server.messages)

    wait_until(relayed_and_sent, 30, interval=0.5, message="never sent after the retry")
    assert [r.rcpt_tos for r in smtp_server.messages] == [["patient@example.org"]]
    with worker_app.app_context():
        wait_until(lambda: _status(row_id) == "done", 10)


def test_the_admin_button_queues_a_test_email_to_the_signed_in_user(
    worker_app, committed, smtp_server
):
    with worker_app.app_context():
        user = create_user(db.session, "editor@example.org", "a long enough password", "editor")
        db.session.commit()
        session_id = user.get_id()

    client = worker_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    page = client.get("/admin/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

    response = client.post("/admin/mail/test", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    page = client.get("/admin/").get_data(as_text=True)
    assert "Test email queued for editor@example.org." in page

    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["editor@example.org"]
    assert received.message["Subject"] == "Test email from Engage"


def test_the_cli_queues_a_test_email(worker_app, committed, smtp_server):
    result = worker_app.test_cli_runner().invoke(args=["mail", "send-test", "cli@example.org"])
    assert result.exit_code == 0, result.output
    assert "Test email queued for cli@example.org." in result.output

    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["cli@example.org"]


def test_the_cli_refuses_a_bad_address(worker_app):
    result = worker_app.test_cli_runner().invoke(args=["mail", "send-test", "not-an-address"])
    assert result.exit_code != 0
    assert "@-sign" in result.output


def test_the_heartbeat_task_runs_on_the_worker(worker_app, worker):
    worker_app.extensions["celery"].send_task("engage.heartbeat")
    worker.wait_for_log("heartbeat: database reachable")


def test_a_rollback_without_database_work_sends_nothing(worker_app, committed, smtp_server):
    with worker_app.app_context():
        queue_test_message("rolled-back@example.org")
        db.session.rollback()
        queue_test_message("committed@example.org")
        db.session.commit()

    deadline = time.monotonic() + 20
    while ["committed@example.org"] not in [r.rcpt_tos for r in smtp_server.messages]:
        assert time.monotonic() < deadline, "the committed email never arrived"
        time.sleep(0.05)
    assert [r.rcpt_tos for r in smtp_server.messages] == [["committed@example.org"]]


def _status(row_id: int) -> str:
    value = db.session.get(OutboxMessage, row_id, populate_existing=True).status
    db.session.rollback()
    return value
