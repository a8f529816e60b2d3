"""The bounce mailbox against a real Dovecot: a DSN, an abuse report and an out-of-office
reply are dropped in its maildir, the `engage.bounces.poll` task reads them over IMAP or POP3,
and the readers' rows and the mailbox say what happened."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from engage.extensions import db as _db
from engage.sending import verp
from engage.sending.models import BounceEvent, Delivery
from engage.subscriptions.models import Subscriber, Suppression
from engage.types import utcnow
from tests.newsletters.conftest import add_newsletter, add_readers, add_topic
from tests.sending.test_bounce_mail import sample
from tests.support.servers import DovecotServer
from tests.support.waiting import wait_until
from tests.support.worker import CeleryWorker, forget_queue
from workers import tasks


@pytest.fixture
def dovecot():
    server = DovecotServer().start()
    yield server
    server.stop()


def make_rows(session, count: int = 3) -> list[Delivery]:
    """Sent delivery rows of one newsletter, one per new reader."""
    topic = add_topic(session)
    addresses = add_readers(session, count, [topic])
    newsletter = add_newsletter(session, [topic])
    rows = []
    for address in addresses:
        reader = session.scalar(select(Subscriber).where(Subscriber.email == address))
        row = Delivery(
            newsletter_id=newsletter.id, subscriber_id=reader.id, status="sent", sent_at=utcnow()
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def drop_reports(server: DovecotServer, app, rows: list[Delivery]) -> tuple[str, str, str]:
    """A DSN for the first row, an abuse report for the second, an out-of-office reply from
    the third; returns the three readers' addresses."""
    key = app.config["ENGAGE"].hash_key
    readers = []
    for row, name in zip(
        rows, ("postfix_dsn.eml", "arf_complaint.eml", "out_of_office.eml"), strict=True
    ):
        reader = _db.session.get(Subscriber, row.subscriber_id)
        address = verp.address("bounces@engage.test", key, verp.DELIVERY, row.id)
        server.deliver(sample(name, address, reader.email))
        readers.append(reader.email)
    return tuple(readers)


def reader(session, email: str) -> Subscriber:
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def suppression(session, email: str) -> str | None:
    return session.scalar(
        select(Suppression.reason).where(
            Suppression.email_hash == reader(session, email).email_hash
        )
    )


def assert_applied(session, bounced: str, complained: str, away: str) -> None:
    session.expire_all()  # the poll ran in a session of its own
    assert reader(session, bounced).status == "unsubscribed"
    assert suppression(session, bounced) == "bounced"
    assert reader(session, complained).status == "unsubscribed"
    assert suppression(session, complained) == "complaint"
    assert reader(session, away).status == "confirmed"
    assert suppression(session, away) is None
    kinds = {e.subscriber_id: e.kind for e in session.scalars(select(BounceEvent))}
    assert kinds == {
        reader(session, bounced).id: "hard",
        reader(session, complained).id: "complaint",
    }


@pytest.mark.parametrize("scheme", ["imap", "pop3"])
def test_the_poll_task_applies_the_mailbox_and_empties_it(ctx, db, app, make_app, dovecot, scheme):
    rows = make_rows(db.session)
    bounced, complained, away = drop_reports(dovecot, app, rows)
    assert len(dovecot.messages()) == 3

    polling = make_app(BOUNCE_MAILBOX_URL=dovecot.url(scheme))
    with polling.app_context():
        result = tasks.bounces_poll.run()

    assert result == {"fetched": 3, "reports": 2, "applied": 2, "unreadable": 0}
    assert_applied(db.session, bounced, complained, away)
    assert dovecot.messages() == []
    assert rows[0].bounce == "hard" and rows[1].bounce == "complaint" and rows[2].bounce is None


def test_imap_moves_what_it_read_when_asked(ctx, db, app, make_app, dovecot):
    rows = make_rows(db.session)
    bounced, complained, away = drop_reports(dovecot, app, rows)
    polling = make_app(BOUNCE_MAILBOX_URL=dovecot.url("imap"), BOUNCE_MAILBOX_MOVE_TO="Processed")
    with polling.app_context():
        tasks.bounces_poll.run()
        # A second poll finds nothing new: the messages were moved, not left behind.
        assert tasks.bounces_poll.run()["fetched"] == 0

    assert_applied(db.session, bounced, complained, away)
    assert dovecot.messages() == []
    moved = dovecot.messages("Processed")
    assert len(moved) == 3
    assert any(b"Feedback-Type: abuse" in raw for raw in moved)


def test_a_message_that_is_no_report_is_removed_too(ctx, db, make_app, dovecot):
    dovecot.deliver(b"\x00\xff garbage that is no message")
    dovecot.deliver(b"Subject: thanks!\r\n\r\nJust a reply to the newsletter.")
    polling = make_app(BOUNCE_MAILBOX_URL=dovecot.url("pop3"))
    with polling.app_context():
        result = tasks.bounces_poll.run()
    assert result["fetched"] == 2 and result["reports"] == 0
    assert dovecot.messages() == []


def test_a_mailbox_that_cannot_be_reached_is_tried_again_next_time(
    ctx, db, make_app, dovecot, caplog
):
    dovecot.deliver(sample("postfix_dsn.eml"))
    wrong = dovecot.url("imap").replace(DovecotServer.PASSWORD, "not-the-password")
    with make_app(BOUNCE_MAILBOX_URL=wrong).app_context(), caplog.at_level(logging.WARNING):
        result = tasks.bounces_poll.run()
    assert "error" in result
    assert "bounce mailbox not read" in caplog.text
    assert DovecotServer.PASSWORD not in caplog.text and "not-the-password" not in caplog.text
    assert len(dovecot.messages()) == 1  # still there for the next poll

    dovecot.stop()  # nobody listening at all
    with make_app(BOUNCE_MAILBOX_URL=dovecot.url("pop3")).app_context():
        assert "error" in tasks.bounces_poll.run()


def test_the_worker_s_beat_polls_the_mailbox(app, committed, test_settings, dovecot, tmp_path):
    with app.app_context():
        rows = make_rows(_db.session)
        bounced, complained, away = drop_reports(dovecot, app, rows)
        _db.session.commit()
    worker = CeleryWorker(
        {
            **test_settings,
            "BOUNCE_MAILBOX_URL": dovecot.url("imap"),
            "BOUNCE_POLL_SECONDS": "1",
        },
        tmp_path / "worker.log",
        beat=True,
    )
    worker.start()
    try:
        wait_until(lambda: dovecot.messages() == [], 30, message=lambda: worker.log())
        worker.wait_for_log("engage.bounces.poll")
    finally:
        worker.stop()
        forget_queue(test_settings["CELERY_BROKER_URL"], worker.queue)
    with app.app_context():
        _db.session.remove()
        assert_applied(_db.session, bounced, complained, away)


def test_the_mailbox_url_is_checked_at_start_and_read_in_full():
    from engage.config import ConfigError, Settings
    from engage.queue import beat_schedule
    from engage.sending.bounce_mailbox import Mailbox

    for bad in ("ftp://host/INBOX", "imaps:///INBOX", "bounces@example.org"):
        with pytest.raises(ConfigError, match="BOUNCE_MAILBOX_URL"):
            Settings.from_env({"BOUNCE_MAILBOX_URL": bad})
    with pytest.raises(ConfigError, match="BOUNCE_SOFT_LIMIT"):
        Settings.from_env({"BOUNCE_SOFT_LIMIT": "0"})
    # Beat polls only a mailbox that is configured, as often as asked.
    assert "bounces-poll" not in beat_schedule(Settings.from_env({}))
    settings = Settings.from_env(
        {"BOUNCE_MAILBOX_URL": "imaps://b:p@mx.example.org/INBOX", "BOUNCE_POLL_SECONDS": "60"}
    )
    entry = beat_schedule(settings)["bounces-poll"]
    assert entry["task"] == "engage.bounces.poll" and entry["schedule"].total_seconds() == 60

    assert Mailbox.from_url("imaps://bounces:p%40ss@mx.example.org/Bounces%20In") == Mailbox(
        "imap", "mx.example.org", 993, "bounces", "p@ss", "Bounces In", tls=True
    )
    assert Mailbox.from_url("imap://u:p@127.0.0.1:1143?starttls=1").starttls
    assert Mailbox.from_url("imap://u:p@127.0.0.1").port == 143
    assert Mailbox.from_url("pop3s://u:p@mx.example.org").port == 995
    assert Mailbox.from_url("pop3://u:p@mx.example.org").port == 110


def test_the_poll_command_reads_the_mailbox_once(ctx, db, app, make_app, dovecot):
    rows = make_rows(db.session)
    bounced, complained, away = drop_reports(dovecot, app, rows)
    polling = make_app(BOUNCE_MAILBOX_URL=dovecot.url("pop3"))

    with polling.app_context():  # the command runs in the app context it finds
        result = polling.test_cli_runner().invoke(args=["bounces", "poll"])

    assert result.exit_code == 0, result.output
    assert "3 message(s) read, 2 report(s), 2 recorded." in result.output
    assert_applied(db.session, bounced, complained, away)
    unset = app.test_cli_runner().invoke(args=["bounces", "poll"])
    assert unset.exit_code != 0 and "BOUNCE_MAILBOX_URL is not set" in unset.output
